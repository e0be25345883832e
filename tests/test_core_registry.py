"""The one registry mechanism: lazy built-ins, entries registered in code, entries of installed packages."""

import sys
import textwrap

import pytest

from hwnas.core.errors import ConfigError
from hwnas.core.registry import Registry


class Base:
    pass


class Thing(Base):
    def __init__(self, size: int = 1):
        self.size = size


def test_builtin_entries_load_lazily_and_options_are_checked():
    reg = Registry("widget", "hwnas.test_widgets", {"thing": f"{__name__}:Thing"})
    assert reg.available() == ["thing"] and "thing" in reg
    assert reg.create("thing", size=3).size == 3
    with pytest.raises(ConfigError, match=r"widget 'thing': unknown option\(s\) \['colour'\]; allowed: \['size'\]"):
        reg.create("thing", colour="red")
    with pytest.raises(ConfigError, match=r"unknown widget 'gadget'; allowed: \['thing'\]"):
        reg.create("gadget")


def test_a_missing_builtin_module_breaks_only_its_name():
    reg = Registry("widget", "hwnas.test_widgets", {"ghost": "hwnas.no_such_module:Ghost",
                                                    "thing": f"{__name__}:Thing"})
    with pytest.raises(ConfigError, match="widget 'ghost' is unavailable: importing hwnas.no_such_module failed"):
        reg.get("ghost")
    assert isinstance(reg.create("thing"), Thing)


def test_register_in_code_as_decorator_and_base_class_checked():
    reg = Registry("widget", "hwnas.test_widgets", base=Base)

    @reg.register("small")
    class Small(Base):
        pass

    assert isinstance(reg.create("small"), Small)
    with pytest.raises(TypeError, match="dict is not a Base"):
        reg.register("bad", dict)
    reg.unregister("small")
    assert "small" not in reg


def test_entries_of_an_installed_distribution(tmp_path, monkeypatch):
    """A package adds an entry through its metadata alone (entry_points.txt in its dist-info)."""
    (tmp_path / "widget_plugin.py").write_text(textwrap.dedent("""
        class Sprocket:
            def __init__(self, teeth=12):
                self.teeth = teeth
    """))
    dist = tmp_path / "widget_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: widget-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[hwnas.test_widgets]\nsprocket = widget_plugin:Sprocket\n"
                                           "broken = widget_plugin:Missing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry("widget", "hwnas.test_widgets")
    assert {"sprocket", "broken"} <= set(reg.available())
    assert reg.create("sprocket", teeth=30).teeth == 30
    with pytest.raises(ConfigError, match="widget 'broken' from entry point 'widget_plugin:Missing'"):
        reg.get("broken")
    sys.modules.pop("widget_plugin", None)
