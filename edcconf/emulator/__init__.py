"""Emulators of EDC system APIs for tests and demos (they are not the real systems).

``edcconf.emulator.redcap.RedcapEmulator`` serves a REDCap API emulator on 127.0.0.1.
"""
