"""Training, evaluation, cross-validation, prediction and export of the ResNet + LSTM recognizer."""
