"""``run``: train one config for a fixed number of steps, evaluate it, report through a sink.

This is the single entry point the CLI's ``xmr run`` and the background worker both call;
only the sink differs. Everything a run needs is in its ``ExperimentConfig``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import torch

from engine.augment import IMAGE_AUGMENTATIONS, TEXT_AUGMENTATIONS
from engine.checkpoint import TrainingState, capture_rng, load_checkpoint, restore_rng, save_checkpoint
from engine.config import ConfigError, ExperimentConfig, TrainConfig, summary_line
from engine.data.datasets import data_warnings, load_split
from engine.data.pipeline import Collator, PairDataset, PairIndex, StepBatchSampler, image_transform
from engine.data.records import RetrievalSplit
from engine.evaluate import score_embeddings
from engine.features import (SplitFeatures, cached_split_features, encode_image_features, encode_split_features,
                             encode_text_features, feature_cache_path, project_features)
from engine.losses import NEGATIVES, ContrastiveBatch, directional_losses
from engine.messages import _
from engine.models.fusion import fusion_rescorer
from engine.models.model import CrossModalRetrievalModel
from engine.optim import OPTIMIZERS, SCHEDULERS
from engine.profiling import PeakMemory, peak_rss_mb
from engine.reproducibility import generator, seed_everything, worker_init
from engine.sink import PrintSink, RunSink, StepRecord

log = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """Raised when the training loss becomes NaN or infinite."""


@dataclass
class RunResult:
    config_hash: str
    summary: str
    steps_done: int
    stopped_early: bool
    metrics: dict[str, float] = field(default_factory=dict)


def parse_device(requested: str) -> torch.device:
    """Return the torch device that ``requested`` names, or raise ValueError saying what is accepted."""
    try:
        return torch.device(requested)
    except RuntimeError:
        raise ValueError(_("--device {value!r} is invalid; use cpu, cuda or cuda:N").format(value=requested)) from None


def resolve_device(requested: str | None) -> torch.device:
    """Return ``requested`` (e.g. ``cpu``, ``cuda:1``), or CUDA when available, else CPU."""
    if requested:
        device = parse_device(requested)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(_("--device {value}: CUDA is not available on this machine; use cpu").format(
                value=requested))
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def run(config: ExperimentConfig, sink: RunSink | None = None, *, device: str | None = None,
        checkpoint_path: Path | None = None, resume_from: Path | None = None) -> RunResult:
    """Train and evaluate ``config``; return its metrics (also reported to ``sink``).

    With ``checkpoint_path`` the trainer saves its state there every ``train.checkpoint_every``
    steps, when it stops early and when training ends. With ``resume_from`` it continues from
    that checkpoint; the final metrics then equal those of an uninterrupted run on CPU.
    """
    sink = sink or PrintSink()
    target = resolve_device(device)
    summary = summary_line(config)
    seed_everything(config.train.seed)

    train_split = load_split(config.data, config.data.train_split)
    eval_split = load_split(config.data, config.data.eval_split)
    for message in data_warnings(train_split, eval_split):
        sink.event("warning", message)
    model = CrossModalRetrievalModel(config).to(target)
    sink.event("info", _("device {device}; {texts} train texts, {images} train images").format(
        device=target, texts=len(train_split.texts), images=len(train_split.image_ids)))

    trainer = Trainer(config, model, train_split, target, sink)
    trainer.checkpoint_path = checkpoint_path
    if resume_from is not None:
        trainer.load_state(load_checkpoint(resume_from, config.config_hash()))
        sink.event("info", _("resumed from {path} at step {step}").format(path=resume_from, step=trainer.step))
    sink.start(summary, config.train.steps)
    setup_peak_mb = peak_rss_mb()  # loading data and backbones, before the phases reset the peak
    with PeakMemory(target) as training:
        trainer.fit()
    metrics = dict(trainer.measurements)
    metrics.update(training.metrics("train"))
    if not trainer.stopped_early:
        with PeakMemory(target) as evaluation:
            metrics.update(evaluate_model(config, model, eval_split, target))
        metrics.update(evaluation.metrics("eval"))
        metrics["peak_rss_mb"] = max(setup_peak_mb, training.rss_mb, evaluation.rss_mb)
        if target.type == "cuda":
            metrics["peak_gpu_mb"] = max(training.gpu_mb or 0.0, evaluation.gpu_mb or 0.0)
        sink.metrics(metrics)
    sink.close()
    return RunResult(config.config_hash(), summary, trainer.step, trainer.stopped_early, metrics)


def evaluate_model(config: ExperimentConfig, model: CrossModalRetrievalModel, split: RetrievalSplit,
                   device: torch.device) -> dict[str, float]:
    """Encode ``split`` with the trained model and score both retrieval directions."""
    started = time.perf_counter()
    transform = eval_transform(config, model)
    hit = False
    if features_fixed(model) and config.train.cache_features == "auto":
        features, hit = cached_split_features(model, split, transform, config.eval.batch_size, device)
    else:
        features = encode_split_features(model, split, transform, config.eval.batch_size, device)
    encoded = time.perf_counter()
    text, image = project_features(model, features, config.eval.batch_size, device)
    metrics = score_embeddings(config, split, text, image, fusion_rescorers(config, model, features, device))
    if not hit:  # a cache hit measures a file read, not the encoders
        metrics["eval/encode_seconds"] = encoded - started
        metrics["eval/encode_ms_per_item"] = 1000 * (encoded - started) / max(1, len(text) + len(image))
        metrics["eval/encode_text_ms_per_item"] = 1000 * features.text_seconds / max(1, len(text))
        metrics["eval/encode_image_ms_per_item"] = 1000 * features.image_seconds / max(1, len(image))
    return metrics


def features_fixed(model: CrossModalRetrievalModel) -> bool:
    """Return True when neither extractor trains, so their features are a function of the data.

    Frozen backbones are not enough: attentive pooling trains on top of a frozen text backbone.
    """
    return not _has_trainable(model.text_encoder) and not _has_trainable(model.image_encoder)


def _has_trainable(module: torch.nn.Module) -> bool:
    return any(parameter.requires_grad for parameter in module.parameters())


def fusion_rescorers(config: ExperimentConfig, model: CrossModalRetrievalModel, features: SplitFeatures,
                     device: torch.device) -> dict:
    """Return the early-fusion re-ranking hooks per direction (none for late fusion)."""
    if model.fusion is None:
        return {}
    k = config.fusion.rerank_k
    return {"t2i": fusion_rescorer(model.fusion, features.text, features.image, k, True, device),
            "i2t": fusion_rescorer(model.fusion, features.image, features.text, k, False, device)}


def resolve_amp_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    """Return the autocast dtype for ``device``, or None when AMP is off."""
    if not config.use_amp:
        return None
    if config.amp_dtype == "fp16" and device.type != "cuda":
        raise ConfigError(_("train.amp_dtype: 'fp16' needs CUDA but the device is {device}; use `bf16` or `auto` "
                            "on CPU").format(device=device))
    if config.amp_dtype == "auto":
        # fp16 runs on every CUDA GPU, whereas bf16 needs compute capability 8.0 or newer. On CPU,
        # autocast's default and best-covered dtype is bf16.
        return torch.float16 if device.type == "cuda" else torch.bfloat16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[config.amp_dtype]


def eval_transform(config: ExperimentConfig, model: CrossModalRetrievalModel):
    backbone = model.image_encoder.backbone
    return image_transform(config.image.image_size, backbone.mean, backbone.std)


@dataclass
class TrainingProgress:
    """Counters of the loss-logging window and the training time, carried across a resume."""

    window_loss: float = 0.0        # summed mean losses of the steps since the last StepRecord
    window_steps: int = 0
    seconds_before: float = 0.0     # training seconds before the current timing window (earlier attempts too)

class Trainer:
    """The optimisation loop of one run: batches, loss, optimizer, schedule and reporting."""

    def __init__(self, config: ExperimentConfig, model: CrossModalRetrievalModel, split: RetrievalSplit,
                 device: torch.device, sink: RunSink) -> None:
        self.config, self.model, self.split, self.device, self.sink = config, model, split, device, sink
        self.pairs = PairIndex(split)
        self.sampler = StepBatchSampler(len(self.pairs), config.train.batch_size, config.train.seed,
                                        config.train.steps)
        self.loss_fn = NEGATIVES.get(config.loss.negatives)(config.loss).to(device)
        self.optimizer = OPTIMIZERS.get(config.optim.optimizer)(model, config.optim)
        self.scheduler = SCHEDULERS.get(config.optim.scheduler)(self.optimizer, config.optim, config.train.steps)
        self.amp_dtype = resolve_amp_dtype(config.train, device)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.amp_dtype == torch.float16)
        self.step = 0
        self.stopped_early = False
        self.measurements: dict[str, float] = {}
        self.cache: dict[str, torch.Tensor] = {}  # backbone features of frozen modalities, by modality
        self.checkpoint_path: Path | None = None
        self.progress = TrainingProgress()
        self.resumed_rng: dict | None = None
        if config.train.grad_checkpoint:
            self._enable_grad_checkpoint()

    # --- batches ---------------------------------------------------------------------------

    def cached_modalities(self) -> set[str]:
        """Return the modalities whose backbone features cannot change during training.

        An extractor with no trainable parameter (backbone and pooling) and no augmentation maps
        each item to the same features every step, so those are encoded once. Only the other
        modality (if any) runs its extractor per step. Attentive pooling trains, so it keeps the
        text side uncached even with a frozen backbone.
        """
        if self.config.train.cache_features != "auto":
            return set()
        fixed = {"text": not _has_trainable(self.model.text_encoder) and self.config.augment.text == "none",
                 "image": not _has_trainable(self.model.image_encoder) and self.config.augment.image == "none"}
        return {modality for modality, unchanging in fixed.items() if unchanging}

    def batches(self) -> Iterator[dict]:
        """Yield training batches from the current step on (split positions, plus loaded inputs)."""
        self.sampler.start_step = self.step
        cached = self.cached_modalities()
        self._fill_cache(cached)
        if cached == {"text", "image"}:
            yield from self._index_batches()
        else:
            yield from self._loader_batches(cached)

    def _fill_cache(self, modalities: set[str]) -> None:
        missing = modalities - set(self.cache)
        if not missing:
            return
        started = time.perf_counter()
        hit = False
        # Encoding a whole split can take minutes on CPU before the first step is logged, so report it.
        if missing != {"text", "image"}:
            self.sink.event("info", _("frozen extractor: encoding the {modality} features before the first "
                                      "step").format(modality=", ".join(sorted(missing))))
        elif not feature_cache_path(self.model, self.split).is_file():
            self.sink.event("info", _("frozen extractors: encoding the features of {texts} texts and {images} images "
                                      "before the first step").format(texts=len(self.split.texts),
                                                                      images=len(self.split.image_ids)))
        if missing == {"text", "image"}:
            # Both sides fixed: the features depend on configs and data only, so the disk cache
            # (shared across runs with the same frozen extractors) applies.
            features, hit = cached_split_features(self.model, self.split, eval_transform(self.config, self.model),
                                                  self.config.eval.batch_size, self.device)
            self.cache.update(text=features.text, image=features.image)
        else:
            self._encode_in_memory(missing)
        seconds = time.perf_counter() - started
        self.measurements["train/feature_cache_seconds"] = seconds
        if hit:
            message = _("frozen extractors: features loaded from the feature cache in {seconds:.1f}s")
        elif missing == {"text", "image"}:
            message = _("frozen extractors: features of {texts} texts and {images} images computed in {seconds:.1f}s")
        else:
            message = _("frozen extractor: {modality} features computed in {seconds:.1f}s")
        self.sink.event("info", message.format(seconds=seconds, modality=", ".join(sorted(missing)),
                                               texts=len(self.cache.get("text", ())),
                                               images=len(self.cache.get("image", ()))))

    def _encode_in_memory(self, modalities: set[str]) -> None:
        batch_size = self.config.eval.batch_size
        was_training = self.model.training
        self.model.eval()
        try:
            if "text" in modalities:
                self.cache["text"] = encode_text_features(
                    self.model, [t.text for t in self.split.texts], batch_size, self.device)
            if "image" in modalities:
                self.cache["image"] = encode_image_features(
                    self.model, self.split, eval_transform(self.config, self.model), batch_size, self.device)
        finally:
            self.model.train(was_training)

    def _index_batches(self) -> Iterator[dict]:
        for keys in self.sampler:
            pairs = torch.tensor([pair for pair, _ in keys])
            yield {"text_index": self.pairs.pair_text[pairs], "image_index": self.pairs.pair_image[pairs]}

    def _loader_batches(self, cached: set[str]) -> Iterator[dict]:
        config = self.config
        augmentation = IMAGE_AUGMENTATIONS.get(config.augment.image)(config.image.image_size)
        backbone = self.model.image_encoder.backbone
        transform = image_transform(config.image.image_size, backbone.mean, backbone.std, augmentation)
        dataset = PairDataset(self.split, self.pairs, transform,
                              TEXT_AUGMENTATIONS.get(config.augment.text)(), config.train.seed,
                              load_images="image" not in cached)
        tokenize = None if "text" in cached else self.model.text_encoder.tokenize
        loader = torch.utils.data.DataLoader(
            dataset, batch_sampler=self.sampler, num_workers=config.data.num_workers,
            collate_fn=Collator(tokenize), worker_init_fn=worker_init,
            generator=generator(config.train.seed, 3), persistent_workers=False,
            pin_memory=self.device.type == "cuda")
        yield from loader

    # --- one optimisation step ------------------------------------------------------------

    def _features(self, batch: dict, rows: slice) -> tuple[torch.Tensor, torch.Tensor]:
        """Return backbone features ``(text, image)`` of the micro-batch (cached or computed)."""
        if "text" in self.cache:
            text = self.cache["text"][batch["text_index"][rows]].to(self.device)
        else:
            inputs = {k: v[rows].to(self.device, non_blocking=True) for k, v in batch["text_inputs"].items()}
            text = self.model.text_features(inputs)
        if "image" in self.cache:
            image = self.cache["image"][batch["image_index"][rows]].to(self.device)
        else:
            image = self.model.image_features(batch["images"][rows].to(self.device, non_blocking=True))
        return text, image

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def train_step(self, batch: dict) -> float:
        """Run one optimizer step over ``grad_accum`` micro-batches; return the mean loss.

        In-batch negatives come from each micro-batch, not the whole batch. The loss of each
        micro-batch is divided by their number, so the gradient is the average over the batch.
        """
        accum = self.config.optim.grad_accum
        size = len(batch["text_index"]) // accum
        self.optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for part in range(accum):
            loss = self.micro_batch_loss(batch, slice(part * size, (part + 1) * size)) / accum
            self._check_finite(loss)
            self.scaler.scale(loss).backward()
            total += loss.item()
        if self.config.optim.max_grad_norm > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.optim.max_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.model.temperature.clamp_()
        return total

    def micro_batch_loss(self, batch: dict, rows: slice) -> torch.Tensor:
        """Return the InfoNCE loss of one micro-batch (plus the fusion loss for early fusion)."""
        with self._autocast():
            text_features, image_features = self._features(batch, rows)
            contrastive = ContrastiveBatch(
                text=self.model.project_text(text_features), image=self.model.project_image(image_features),
                text_index=batch["text_index"][rows], image_index=batch["image_index"][rows],
                scorer=self.model.logits, positives=self.pairs.positives)
            loss = self.loss_fn(contrastive)
            if self.model.fusion is not None:
                loss = loss + self._fusion_loss(text_features, image_features, contrastive)
        return loss.float()

    def _fusion_loss(self, text_features: torch.Tensor, image_features: torch.Tensor,
                     contrastive: ContrastiveBatch) -> torch.Tensor:
        # The fusion head scores every in-batch pair; the same false-negative mask applies.
        logits = self.model.fusion.score_grid(text_features, image_features).float()
        positives = contrastive.positive_mask(contrastive.text_index, contrastive.image_index)
        return directional_losses(logits, logits.T, positives, positives.T, self.config.loss.directions)

    def _check_finite(self, loss: torch.Tensor) -> None:
        if not torch.isfinite(loss):
            last = getattr(self, "_last_finite", None)
            where = (_("last finite loss {loss:.4f} at step {step}").format(loss=last[1], step=last[0]) if last
                     else _("no finite loss yet"))
            raise NonFiniteLossError(_("loss became {value} at step {step} ({where}); lower optim.lr, raise "
                                       "similarity.temperature or turn off train.use_amp").format(
                value=loss.item(), step=self.step + 1, where=where))

    def fit(self) -> None:
        """Train until ``train.steps`` or until the sink requests a stop, checkpointing on the way."""
        self.model.train()
        self._prepare_start()
        progress = self.progress
        window_start = train_start = time.perf_counter()

        for batch in self.batches():
            if self.sink.should_stop():
                self.stopped_early = True
                self.sink.event("warning", _("stopped at step {step} on request").format(step=self.step))
                break
            loss = self.train_step(batch)
            self.step += 1
            self._last_finite = (self.step, loss)
            progress.window_loss, progress.window_steps = progress.window_loss + loss, progress.window_steps + 1

            if self.step % self.config.train.log_every == 0 or self.step == self.config.train.steps:
                self._log_window(time.perf_counter() - window_start)
                window_start = time.perf_counter()
            if self._checkpoint_due():
                progress.seconds_before += time.perf_counter() - train_start
                train_start = time.perf_counter()
                self.save_checkpoint()

        progress.seconds_before += time.perf_counter() - train_start
        if self.stopped_early or self.step == self.config.train.steps:
            self.save_checkpoint()
        seconds = progress.seconds_before
        self.measurements["train/seconds"] = seconds
        self.measurements["train/samples_per_s"] = self.step * self.config.train.batch_size / max(seconds, 1e-9)
        self.measurements.update({f"train/final_{k}": v for k, v in self.model.temperature.values().items()})

    def _prepare_start(self) -> None:
        self._fill_cache(self.cached_modalities())
        if self.resumed_rng is not None:
            # Restored only now: building the feature cache must not shift the generators
            # relative to the uninterrupted run, which built its cache before step 1 too.
            restore_rng(self.resumed_rng)
            self.resumed_rng = None

    def _log_window(self, elapsed: float) -> None:
        progress = self.progress
        self.sink.step(StepRecord(
            step=self.step, loss=progress.window_loss / progress.window_steps,
            lr=self.optimizer.param_groups[0]["lr"],
            samples_per_s=progress.window_steps * self.config.train.batch_size / max(elapsed, 1e-9),
            temperatures=self.model.temperature.values()))
        progress.window_loss, progress.window_steps = 0.0, 0

    # --- checkpoints ----------------------------------------------------------------------

    def _checkpoint_due(self) -> bool:
        every = self.config.train.checkpoint_every
        # The last step is checkpointed after the loop, together with a stop on request.
        return every > 0 and self.step % every == 0 and self.step < self.config.train.steps

    def save_checkpoint(self) -> None:
        """Write the training state to ``checkpoint_path`` (if set) and report it to the sink."""
        if self.checkpoint_path is None:
            return
        save_checkpoint(self.checkpoint_path, self.state())
        self.sink.checkpoint(str(self.checkpoint_path), self.step)

    def state(self) -> TrainingState:
        """Return everything needed to continue training exactly from the current step."""
        progress = dict(vars(self.progress), last_finite=getattr(self, "_last_finite", None))
        return TrainingState(
            step=self.step, config_hash=self.config.config_hash(), model=self.model.state_dict(),
            optimizer=self.optimizer.state_dict(), scheduler=self.scheduler.state_dict(),
            scaler=self.scaler.state_dict(), loss=self.loss_fn.state_dict(), rng=capture_rng(),
            progress=progress)

    def load_state(self, state: TrainingState) -> None:
        """Continue from ``state``; generators are restored when ``fit`` starts."""
        self.model.load_state_dict(state.model)
        self.optimizer.load_state_dict(state.optimizer)
        self.scheduler.load_state_dict(state.scheduler)
        self.scaler.load_state_dict(state.scaler)
        self.loss_fn.load_state_dict(state.loss)
        self.step = state.step
        progress = dict(state.progress)
        last_finite = progress.pop("last_finite", None)
        if last_finite is not None:
            self._last_finite = tuple(last_finite)
        self.progress = TrainingProgress(**progress)
        self.resumed_rng = state.rng

    def _enable_grad_checkpoint(self) -> None:
        for encoder in (self.model.text_encoder, self.model.image_encoder):
            if not encoder.frozen and hasattr(encoder.backbone, "enable_grad_checkpoint"):
                encoder.backbone.enable_grad_checkpoint()
