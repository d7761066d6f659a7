"""digest: turn a blog's feed into an email digest and deliver it to every subscriber."""

__version__ = "0.1.0"
