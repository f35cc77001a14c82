"""fmnist-report: a reproducible comparative study of models on Fashion-MNIST."""

__version__ = "0.1.0"
