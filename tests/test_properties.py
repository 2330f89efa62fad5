"""Property-based tests: the validators never crash and never let a bad value through; what is saved reads back."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings, strategies as st

from panel.errors import ValidationError
from panel.settings import SETTINGS, email_address, host_name
from panel.store import Store

ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)


@given(key=st.sampled_from(sorted(SETTINGS)), raw=st.one_of(ANY_TEXT, st.integers(), st.booleans(), st.none(),
                                                            st.floats(allow_nan=True)))
def test_parse_either_accepts_a_typed_value_or_refuses_with_a_message(key, raw):
    setting = SETTINGS[key]
    try:
        value = setting.parse(raw)
    except ValueError as e:
        assert str(e) and str(e)[0].isupper() and str(e).endswith(".")
        return
    if setting.kind == "int":
        assert isinstance(value, int) and setting.minimum <= value <= setting.maximum
    elif setting.kind == "choice":
        assert value in setting.choices
    else:
        assert isinstance(value, str) and len(value) <= setting.max_length
        assert not any(ord(c) < 32 or ord(c) == 127 for c in value)
    assert setting.parse(value) == value, "a stored value parses to itself"


@given(ANY_TEXT)
def test_accepted_host_names_have_no_space_or_control(raw):
    try:
        value = host_name(raw)
    except ValueError:
        return
    assert " " not in value and value == value.strip()


@given(ANY_TEXT)
def test_accepted_addresses_have_exactly_one_at(raw):
    try:
        value = email_address(raw)
    except ValueError:
        return
    assert value == "" or (value.count("@") == 1 and "." in value.split("@")[1])


LABEL = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=10)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.fixed_dictionaries({}, optional={
    "smtp.server": st.builds(lambda a, b: f"{a}.{b}.example", LABEL, LABEL),
    "smtp.port": st.integers(1, 65535),
    "smtp.timeout": st.integers(-5, 70),
    "smtp.sender_name": st.text(max_size=70),
    "smtp.sender_address": st.builds(lambda a, b: f"{a}@{b}.example", LABEL, LABEL),
    "pop.check_interval": st.integers(-1, 300),
    "oauth.provider": st.sampled_from(["lab", "microsoft365", "oidc", "other"]),
}))
def test_store_round_trip(tmp_path_factory, changes):
    data_dir = tmp_path_factory.mktemp("rt")
    store = Store(data_dir)
    before = store.settings()
    try:
        store.update(changes)
    except ValidationError as e:
        assert set(e.errors) <= set(changes)
        assert store.settings() == before, "a refused update saves nothing"
        store.close()
        return
    store.close()
    again = Store(data_dir)  # a restart reads back what was saved
    for key, raw in changes.items():
        assert again.settings()[key] == SETTINGS[key].parse(raw)
    again.close()
