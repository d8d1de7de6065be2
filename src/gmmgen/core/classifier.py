"""A small Keras CNN that judges digits: class probabilities and penultimate-layer features.

It plays the role Inception plays for FID and IS on natural images: trained
once on real digits, it scores generated ones. Training is seeded and uses
TensorFlow's deterministic ops, so the same data and seed give the same model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

FEATURES_LAYER = "features"


def _keras():
    from gmmgen.core.progress import before_tensorflow

    before_tensorflow()  # before TensorFlow's first import: its C++ and absl logs stay quiet
    import keras

    return keras


def build(input_shape: tuple[int, int], n_classes: int = 10, width: int = 32) -> Any:
    """Two conv blocks, a 128-unit feature layer, softmax output. Works for 28x28 and 8x8 inputs."""
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input(shape=(*input_shape, 1))
    x = layers.Rescaling(1.0 / 255.0)(inputs)
    x = layers.Conv2D(width, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(2 * width, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.25)(x)
    feats = layers.Dense(128, activation="relu", name=FEATURES_LAYER)(x)
    x = layers.Dropout(0.25)(feats)
    outputs = layers.Dense(n_classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs, name="digit_judge")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _epoch_bar(keras: Any, epochs: int, progress: bool) -> Any:
    """A Keras callback that shows training as one bar, a step per epoch, with loss and accuracy."""
    from gmmgen.core.progress import progress as progress_bar

    class EpochBar(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):  # noqa: ANN001
            self.bar = progress_bar(total=epochs, desc="judge CNN", unit="epoch", disable=not progress)

        def on_epoch_end(self, epoch, logs=None):  # noqa: ANN001
            logs = logs or {}
            self.bar.set_postfix_str(f"loss {logs.get('loss', float('nan')):.3f} acc {logs.get('accuracy', 0):.3f}")
            self.bar.update(1)

        def on_train_end(self, logs=None):  # noqa: ANN001
            self.bar.close()

    return EpochBar()


def train(
    images: np.ndarray, labels: np.ndarray, seed: int, epochs: int, batch_size: int, progress: bool = True
) -> tuple[Any, dict[str, list[float]]]:
    """Fit the CNN on uint8 images (n, h, w); return the model and its per-epoch history.

    ``progress`` shows one bar with a step per epoch (Keras's own output is off).
    """
    keras = _keras()
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    model = build(tuple(images.shape[1:]))
    history = model.fit(
        images[..., None],
        labels.astype(np.int64),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        verbose=0,
        callbacks=[_epoch_bar(keras, epochs, progress)],
    )
    return model, {k: [float(v) for v in vals] for k, vals in history.history.items()}


def save(model: Any, path: str | Path) -> None:
    """Save ``model`` as a ``.keras`` file whose bytes depend only on the model.

    Keras stamps the save date into ``metadata.json``, the current time into
    the zip entry of the weights and Python object ids (``shared_object_id``)
    into ``config.json``; the date is dropped, the times fixed and the ids
    renumbered in order of appearance, so the same weights give the same file
    and DVC sees no change.
    """
    import json
    import tempfile
    import zipfile

    path = Path(path)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        raw = Path(tmp) / "raw.keras"
        model.save(raw)
        with zipfile.ZipFile(raw) as src, zipfile.ZipFile(path, "w") as dst:
            for info in src.infolist():
                data = src.read(info.filename)
                if info.filename == "metadata.json":
                    meta = json.loads(data)
                    meta.pop("date_saved", None)
                    data = json.dumps(meta, sort_keys=True).encode()
                elif info.filename == "config.json":
                    data = json.dumps(_renumber_ids(json.loads(data), {})).encode()
                entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
                entry.compress_type = info.compress_type
                entry.external_attr = 0o644 << 16
                dst.writestr(entry, data)


def _renumber_ids(node: Any, ids: dict[int, int]) -> Any:
    """``node`` with every ``shared_object_id`` replaced by 0, 1, 2... in order of first appearance."""
    if isinstance(node, dict):
        return {
            k: ids.setdefault(v, len(ids)) if k == "shared_object_id" else _renumber_ids(v, ids)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_renumber_ids(v, ids) for v in node]
    return node


def load(path: str | Path) -> Any:
    return _keras().models.load_model(path)


def _two_headed(model: Any) -> Any:
    """The judge with its features as a second output, built once per model (so traced once)."""
    both = getattr(model, "_gmmgen_two_headed", None)
    if both is None:
        keras = _keras()
        both = keras.Model(model.inputs, [model.outputs[0], model.get_layer(FEATURES_LAYER).output])
        model._gmmgen_two_headed = both
    return both


def predict(model: Any, images: np.ndarray, batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities (n, 10) and penultimate features (n, 128) of uint8 images (n, h, w).

    Every batch the model sees has exactly ``batch_size`` rows (the last one is
    padded with blank images, whose outputs are dropped): one input shape, so
    TensorFlow traces the prediction function once, not once per input size.
    """
    n = len(images)
    padded = np.zeros((-(-max(n, 1) // batch_size) * batch_size, *images.shape[1:]), images.dtype)
    padded[:n] = images
    probs, feats = _two_headed(model).predict(padded[..., None], batch_size=batch_size, verbose=0)
    return probs[:n].astype(np.float64), feats[:n].astype(np.float64)
