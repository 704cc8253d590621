import pytest
from redcap import Project

from edcconf.emulator.redcap import RedcapEmulator

TOKEN = "0123456789ABCDEF0123456789ABCDEF"


def make(version="14.5.0"):
    emu = RedcapEmulator(version=version)
    emu.add_project(
        project_id=12,
        title="Type 2 diabetes registry",
        forms=["demographics", "hba1c"],
        dags=[("mgh", "MGH"), ("ucsf", "UCSF")],
        token=TOKEN,
    )
    emu.start()
    return emu


@pytest.fixture
def emu():
    emu = make()
    yield emu
    emu.stop()


@pytest.fixture
def emu156():
    emu = make("15.6.0")
    yield emu
    emu.stop()


@pytest.fixture
def proj(emu):
    return Project(emu.url, TOKEN)
