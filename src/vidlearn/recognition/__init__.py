"""Action recognition: datasets, models, evaluation protocols, metrics and prediction.

Where things are:

- ``recipe``: the recipe schema (``RecognitionConfig``, its ``data.preprocessing`` section) and ``load_recipe``;
- ``preprocessing``: a recipe or weights spec to the clip pipeline (``build_clip_transform``);
- ``builders``: the dataset of a split and the model of a recipe;
- ``steps``: the training step the engine calls (``ClassificationStep``);
- ``training``: ``train`` a recipe and save ``model.safetensors``;
- ``protocols``: ``run_protocol``, ``evaluate`` a checkpoint, ``evaluate_svm``, ``average_splits``;
- ``evaluation``, ``metrics``, ``svm``: multi-view scoring, accuracy and plots, the SVM protocol;
- ``checkpoints``: ``load_trained_model``; ``predict``: top-k and timelines for a video;
- ``wing``: what ``vidlearn train`` / ``evaluate`` call for ``task: recognition`` (see :mod:`vidlearn.tasks`);
- ``demo`` and ``architecture_comparison``: ``vidlearn demo`` and ``vidlearn bench talk`` on the built-in data.
"""
