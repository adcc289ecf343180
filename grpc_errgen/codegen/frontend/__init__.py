"""Front ends: descriptors and their options -> the model. Each reports problems through ``GenContext.error``."""
