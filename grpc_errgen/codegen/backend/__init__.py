"""The back end: the model -> Python source. The only place that decides Python names, imports and text."""
