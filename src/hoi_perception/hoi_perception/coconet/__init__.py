"""CoCoNet (NVlabs/CARI4D) refinement: window builder, decoding, stand-in engine, pipeline, evaluation."""
