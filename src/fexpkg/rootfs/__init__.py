"""FEX RootFS images: reading EroFS and ld.so.cache, and checking what programs need is there."""
