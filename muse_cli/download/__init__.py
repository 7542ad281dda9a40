"""Fetch, resume, verify, unpack and install checkpoints into the cache.

    download(name)            registry name -> $MUSE_HOME/checkpoints/NAME
    install_file(name, tar)   the same from a tarball already on disk
    list_checkpoints()        known and installed checkpoints with their sizes
    check_checkpoint(...)     a checkpoint's variables against its config's

Where a download comes from: ``url=`` (``--url``) replaces the registry's URL
outright. Otherwise ``MUSE_MIRROR`` replaces the prefix :data:`MAGENTA_BASE`
(``https://storage.googleapis.com/magentadata``, no trailing slash) of a
registry URL, keeping the rest of the path: with ``MUSE_MIRROR=http://m.lan/magenta``
``.../magentadata/models/music_vae/checkpoints/cat-mel_2bar_big.tar`` is fetched
from ``http://m.lan/magenta/models/music_vae/checkpoints/cat-mel_2bar_big.tar``.
URLs that do not start with that prefix are left alone.

What is left on disk after a failure: nothing, except after a transient
failure (connection cut, timeout, 5xx once the retries are spent, Ctrl-C) in
the middle of a transfer. Then ``downloads/NAME.tar.part`` (and its
``.part.json`` note of the URL) is kept so that the next run resumes it with an
HTTP ``Range`` request; a server that answers 200 instead of 206 makes it start
over. A wrong sha256, an unsafe archive or a checkpoint that does not fit its
config removes everything.

Trust: the sha256 is computed while the bytes stream in (a resumed file's
existing part is hashed first), never by reading the finished file again. A
registry sha256 must match it. Without one the hash (which the CLI prints) is
recorded in the install manifest (``trust: "first-use"``) and in
``known_hashes.json`` under MUSE_HOME; every later download of that name
(``--force`` included) must match it.

Two processes installing one name take turns on ``downloads/NAME.lock``
(filelock); the second finds the checkpoint installed and reuses it.

The package, a module an idea:
    transfer   HTTP transfer into NAME.tar.part, resumed with a Range request, retried
    archive    safe unpacking of a tarball; swapping the unpacked folder into place
    check      (in engines/check.py) a checkpoint's variables against its config's (imports TensorFlow)
    pins       trust on first use: known_hashes.json
    lock       one install of a name at a time (filelock)
    install    download() and install_file(): the steps above in order
    listing    list_checkpoints()
"""

from muse_cli.download.install import (
    MAGENTA_BASE,
    TRUST_FIRST_USE,
    TRUST_REGISTRY,
    Installed,
    download,
    install_file,
    source_url,
)
from muse_cli.download.listing import Listing, list_checkpoints
from muse_cli.download.transfer import Event, Report, Retry
from muse_cli.engines.check import check_checkpoint

__all__ = [
    "MAGENTA_BASE",
    "TRUST_FIRST_USE",
    "TRUST_REGISTRY",
    "Event",
    "Installed",
    "Listing",
    "Report",
    "Retry",
    "check_checkpoint",
    "download",
    "install_file",
    "list_checkpoints",
    "source_url",
]
