"""Record batches (magic v2): header views, validation, compression, record codec."""
