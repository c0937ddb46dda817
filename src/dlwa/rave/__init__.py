"""RAVE (Caillon & Esling, 2021) in Pd: any nn~-compatible TorchScript model, streamed live.

At run time a RAVE model is the TorchScript file (``.ts``) that ``rave export --streaming``
or the ``nn-tilde`` package writes, the format nn~ users already share: :mod:`.model`
reads its methods and attributes, :mod:`.stream` runs them chunk by chunk (the class both
``[rave~]`` and ``dlwa stream rave`` use). Training and export drive the ``acids-rave``
package, an optional extra (``bash scripts/install-rave.sh``): :mod:`.train`, :mod:`.data`,
:mod:`.convert`.
"""
