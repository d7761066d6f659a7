"""How a post's featured picture is shown: at the column's width, never wider than it came."""

from __future__ import annotations

from dataclasses import dataclass

from digest.models import FeaturedImage

# The text column of the card: 600 px less 40 px of padding each side (Outlook's Word engine
# takes the width attribute as given; other clients also get width:100% and max-width).
COLUMN_WIDTH = 520


@dataclass(frozen=True)
class ImageView:
    """A featured image as the template writes it: ``width``/``height`` attributes in pixels."""

    src: str
    alt: str
    width: int
    height: int | None  # None when the feed gives no size: the height follows the picture


def image_view(image: FeaturedImage | None, title: str) -> ImageView | None:
    """The <img> for a featured image, scaled down (never up) to the column; alt from the feed
    or else the post's title."""
    if image is None:
        return None
    width = min(image.width, COLUMN_WIDTH) if image.width else COLUMN_WIDTH
    height = None
    if image.width and image.height:
        height = max(1, round(image.height * width / image.width))
    return ImageView(src=image.url, alt=image.alt or title, width=width, height=height)
