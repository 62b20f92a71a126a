"""What is registered and the data behind it: ``list``, ``cite`` and ``data build / show / import``."""

from __future__ import annotations

from lensbench import registry
from lensbench.data.cache import materialise
from lensbench.data.export import preset_sizes
from lensbench.data.reading import read_meta
from lensbench.data.resolve import resolve_spec


def cmd_list(args) -> int:
    import pandas as pd

    if args.what == "tasks":
        rows = [{"task": t.id, "v": t.version, "kind": t.kind, "dataset": t.dataset,
                 "metric": f"{t.primary_metric} ({'higher' if t.higher_is_better else 'lower'} is better)",
                 "quick train/val/test per class": "/".join(
                     str(v) for v in (t.presets["quick"].train_per_class, t.presets["quick"].sizes["val"],
                                      t.presets["quick"].sizes["test"])),
                 "presets": ",".join(t.presets), "citation": t.citation.split(";")[0][:40]}
                for t in registry.tasks.all()]
    elif args.what == "models":
        rows = [{"model": m.name, "family": m.family, "kinds": ",".join(m.kinds), "twin": m.twin or "",
                 "description": m.description[:60]} for m in registry.models.all()]
    elif args.what == "suites":
        rows = [{"suite": s.name, "preset": s.preset if not s.parts else "per part", "tasks": len(s.tasks),
                 "models": len(s.models), "description": s.description[:70]} for s in registry.suites.all()]
        parts = [{"suite": s.name, "part": i, "tasks": ", ".join(p.tasks), "models": len(p.models), "preset": p.preset,
                  "seeds": len(p.seeds) if p.seeds else "task's", "why": p.why}
                 for s in registry.suites.all() if s.parts for i, p in enumerate(s.parts, 1)]
        if parts:  # the suites given in parts: what runs where, and why
            print(pd.DataFrame(rows).to_markdown(index=False) + "\n")
            rows = parts
    else:
        rows = [{"dataset": d.name, "v": d.version, "source": d.recipe or d.adapter,
                 "shape": "x".join(map(str, d.image_shape)), "px": f'{d.pixel_scale}"',
                 "classes": ",".join(d.classes)} for d in registry.datasets.all()]
    print(pd.DataFrame(rows).to_markdown(index=False) if rows else f"no {args.what} registered")
    return 0


def cmd_cite(args) -> int:
    from lensbench.run import submission

    print(submission.cite(args.task))
    return 0


def _data_root_for(spec, args):
    """Where ``spec`` reads its files: a registered file dataset that needs preparing (e.g. the Space
    Warps gallery view) is prepared from ``--data-root`` first."""
    from lensbench.data import taskdata

    return taskdata.adapter_root(spec, args.data_root, args.cache) if spec.adapter is not None else args.data_root


def cmd_data_build(args) -> int:
    spec = resolve_spec(args.name, args.cache)
    root = _data_root_for(spec, args)
    for sizes in preset_sizes(spec, args.preset):
        ds = materialise(spec, sizes, cache=args.cache, data_root=root, force=args.force,
                              device=args.device)
        print(f"{spec.name}: {sizes or 'all files'} per class, fingerprint {read_meta(ds)['fingerprint']}")
    return 0


def cmd_data_show(args) -> int:
    from lensbench.data import card as datacard

    spec = resolve_spec(args.name, args.cache)
    sizes = preset_sizes(spec, args.preset)[0]
    root = _data_root_for(spec, args)
    ds = materialise(spec, sizes, cache=args.cache, data_root=root)
    meta = read_meta(ds)
    for split, counts in meta["counts"].items():
        print(f"{split}: {counts}")
    print(f"fingerprint: {meta['fingerprint']}")
    for what, path in datacard.show(spec, ds, sizes, cache=args.cache, data_root=root).items():
        print(f"{what}: {path}")
    return 0


def cmd_data_import(args) -> int:
    from lensbench.data.importing import import_dataset

    spec, ds = import_dataset(args.path, args.format, args.name, cache=args.cache,
                              image_size=tuple(args.image_size) if args.image_size else None,
                              pixel_scale=args.pixel_scale, seed=args.seed)
    print(f"imported {spec.name}: {ds}  fingerprint {read_meta(ds)['fingerprint']}")
    return 0
