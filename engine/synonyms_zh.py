"""A small hand-curated table of Chinese synonyms for caption augmentation (``synonym_replace``).

No synonym dictionary can be downloaded at training time, so the table ships with the code.
It was written by hand for this project, aimed at the vocabulary of short image captions
(faces, feelings, colours, animals, food, objects, sizes). Each group contains words that can
replace each other in a caption without changing what it describes. Words are jieba tokens.
"""

from __future__ import annotations

SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    # faces and expressions
    ("脸", "面孔", "脸庞"),
    ("笑脸", "笑容"),
    ("微笑", "笑"),
    ("大笑", "狂笑"),
    ("哭", "哭泣", "流泪"),
    ("眼睛", "眼"),
    ("嘴", "嘴巴"),
    ("生气", "愤怒", "发怒"),
    ("开心", "高兴", "快乐", "愉快"),
    ("难过", "伤心", "悲伤"),
    ("害怕", "恐惧", "惊恐"),
    ("惊讶", "吃惊", "震惊"),
    ("疲惫", "疲倦", "累"),
    ("喜欢", "喜爱"),
    ("爱心", "心形"),
    ("亲吻", "吻"),
    # people and body
    ("男人", "男子", "男性"),
    ("女人", "女子", "女性"),
    ("孩子", "儿童", "小孩"),
    ("婴儿", "宝宝"),
    ("老人", "老年人"),
    ("手", "手掌"),
    ("手指", "指头"),
    ("跑步", "奔跑"),
    ("走路", "行走", "步行"),
    ("跳舞", "舞蹈"),
    # colours
    ("红色", "红"),
    ("绿色", "绿"),
    ("蓝色", "蓝"),
    ("黄色", "黄"),
    ("紫色", "紫"),
    ("橙色", "橘色"),
    ("黑色", "黑"),
    ("白色", "白"),
    ("灰色", "灰"),
    ("棕色", "褐色"),
    # shapes and sizes
    ("圆形", "圆圈"),
    ("方块", "方形", "正方形"),
    ("大", "巨大"),
    ("小", "微小"),
    ("星星", "星"),
    # animals
    ("猫", "猫咪"),
    ("狗", "小狗", "狗狗"),
    ("兔子", "兔"),
    ("老鼠", "鼠"),
    ("鸟", "小鸟"),
    ("鱼", "鱼儿"),
    ("马", "骏马"),
    ("猪", "小猪"),
    ("熊", "狗熊"),
    ("昆虫", "虫子"),
    # food and drink
    ("苹果", "苹果果实"),
    ("面包", "吐司"),
    ("蛋糕", "糕点"),
    ("米饭", "饭"),
    ("面条", "面"),
    ("咖啡", "热咖啡"),
    ("饮料", "饮品"),
    ("酒", "酒水"),
    ("水果", "果子"),
    ("蔬菜", "青菜"),
    # objects, places, transport
    ("汽车", "轿车", "小汽车"),
    ("公交车", "公共汽车", "巴士"),
    ("自行车", "单车", "脚踏车"),
    ("飞机", "客机"),
    ("船", "轮船"),
    ("房子", "房屋"),
    ("书", "书本", "书籍"),
    ("电话", "手机"),
    ("电脑", "计算机"),
    ("钟", "时钟"),
    ("礼物", "礼品"),
    ("旗帜", "旗子", "旗"),
    ("标志", "符号", "记号"),
    ("按钮", "按键"),
    # nature and weather
    ("太阳", "日头"),
    ("月亮", "月"),
    ("云", "云朵"),
    ("雨", "雨水"),
    ("雪", "雪花"),
    ("花", "花朵"),
    ("树", "树木"),
    ("山", "山峰"),
    ("火", "火焰"),
)


def synonym_lookup() -> dict[str, tuple[str, ...]]:
    """Return ``word → the other words of its group``."""
    lookup: dict[str, tuple[str, ...]] = {}
    for group in SYNONYM_GROUPS:
        for word in group:
            lookup[word] = tuple(other for other in group if other != word)
    return lookup
