"""avemotion: the EmotiW 2017 hybrid audio-video emotion recognition network as a pipeline."""
__version__ = "0.1.0"
