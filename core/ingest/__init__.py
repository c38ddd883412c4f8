"""Getting images into a catalog: folder and manifest sources, the importer, safe image decoding, thumbnails and
the demo catalog.

:mod:`core.ingest.images` is the one decode path (size and pixel limits, EXIF orientation, 16-bit, alpha) shared by
thumbnails and training. Uses :mod:`core.catalog`; never torch.
"""
