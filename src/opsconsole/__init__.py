"""opsconsole: a keyboard-driven NOC console joining ITOM and ITSM through a CMDB."""

__version__ = "0.1.0"
