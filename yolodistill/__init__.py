"""yolodistill: distill a large Ultralytics YOLO detector into a nano student and ship it to edge devices."""

__version__ = "0.1.0"
