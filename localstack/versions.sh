# Pinned versions the emulator scripts share.
VERSITYGW_VERSION=v1.8.0
