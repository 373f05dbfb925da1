"""Model parts of the dual encoder; importing this package registers every variant."""

from engine.models.fusion import FeatureFusion
from engine.models.heads import OptimizedMLPProjector, build_heads
from engine.models.image import ImageFeatureExtractor
from engine.models.model import CrossModalRetrievalModel
from engine.models.similarity import SimilarityCalculator, Temperature
from engine.models.text import TextFeatureExtractor

__all__ = ["CrossModalRetrievalModel", "FeatureFusion", "ImageFeatureExtractor", "OptimizedMLPProjector",
           "SimilarityCalculator", "Temperature", "TextFeatureExtractor", "build_heads"]
