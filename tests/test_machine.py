"""What a run records about its machine."""
import shsep.machine as machine


def test_a_cpu_name_without_a_model_number_gets_its_family(monkeypatch):
    fields = {"model name": "AMD EPYC", "cpu family": "26", "model": "2"}
    monkeypatch.setattr(machine, "_cpuinfo_field", fields.get)
    monkeypatch.setattr(machine.os, "cpu_count", lambda: 2)
    assert machine.cpu_model() == "AMD EPYC (Zen 5, family 26, model 2), 2 cores"
    fields["model name"] = "Intel(R) Xeon(R) Platinum 8488C"  # a model number says enough
    assert machine.cpu_model() == "Intel(R) Xeon(R) Platinum 8488C, 2 cores"
    fields.update({"model name": "Some CPU", "cpu family": "6", "model": "143"})
    assert machine.cpu_model() == "Some CPU (family 6, model 143), 2 cores"
