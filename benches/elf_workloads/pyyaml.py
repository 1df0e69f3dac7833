import yaml
assert yaml.__with_libyaml__, "yaml has no libyaml: _yaml extension missing"
doc = "a: 1\nb: [x, y]\nc: {d: 2.5}\n"
assert yaml.load(doc, Loader=yaml.CLoader) == {"a": 1, "b": ["x", "y"], "c": {"d": 2.5}}
assert yaml.dump({"k": [1, 2]}, Dumper=yaml.CDumper) == "k:\n- 1\n- 2\n"
print("ok yaml", yaml.__version__)
