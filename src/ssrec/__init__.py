"""ssrec: self-supervised recommendation with one trainer and full-ranking evaluation."""

__version__ = "0.1.0"
