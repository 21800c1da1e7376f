"""Action recognition: datasets, models, evaluation protocols, metrics and prediction."""
