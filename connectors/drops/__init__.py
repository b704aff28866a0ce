"""Places a delivery is published to, atomically, with its manifest written last."""

import warnings

# cryptography 51 deprecates DSA, and asyncssh (the SFTP drop) loads its DSA support when
# it is imported: without this, every run with an SFTP drop would print the warning on
# the coordinator's terminal. Sluis never offers or accepts a DSA key: the SFTP drop
# uses asyncssh's default algorithms, which leave ssh-dss out.
warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"asyncssh\.")
