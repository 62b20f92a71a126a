"""Croissant (MLCommons) JSON-LD of an export (``lensbench.data.export``), with the Responsible-AI fields.

One ``cr:FileSet`` and one ``cr:RecordSet`` per (config, split), reading the parquet shards; each shard
is also listed as a ``cr:FileObject`` with its sha256. Fields: ``image`` (float32 array of the stored
shape, ``isArray`` / ``arrayShape``), ``label``, ``class_name``, the float parameter columns and, for
file datasets, ``source``. The RAI fields (``rai:dataCollection``, ``rai:dataLimitations``,
``rai:dataBiases``, ``rai:personalSensitiveInformation``, ``rai:dataUseCases`` ...) share their text
with the dataset card (``lensbench.data.card``). Written as plain JSON: exporting needs no
``mlcroissant``; the tests validate the file with it.
"""

from __future__ import annotations

from pathlib import Path

from lensbench.data import card
from lensbench.data.fetch import sha256_of
from lensbench.specs import SPLITS

CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
RAI_CONFORMS_TO = "http://mlcommons.org/croissant/RAI/1.0"
CONTEXT = {
    "@language": "en", "@vocab": "https://schema.org/", "sc": "https://schema.org/",
    "cr": "http://mlcommons.org/croissant/", "rai": "http://mlcommons.org/croissant/RAI/",
    "dct": "http://purl.org/dc/terms/", "citeAs": "cr:citeAs", "column": "cr:column",
    "conformsTo": "dct:conformsTo", "containedIn": "cr:containedIn", "arrayShape": "cr:arrayShape",
    "isArray": "cr:isArray", "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"}, "examples": {"@id": "cr:examples", "@type": "@json"},
    "equivalentProperty": "cr:equivalentProperty", "extract": "cr:extract", "field": "cr:field",
    "fileProperty": "cr:fileProperty", "fileObject": "cr:fileObject", "fileSet": "cr:fileSet",
    "format": "cr:format", "includes": "cr:includes", "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath", "key": "cr:key", "md5": "cr:md5", "parentField": "cr:parentField",
    "path": "cr:path", "recordSet": "cr:recordSet", "references": "cr:references", "regex": "cr:regex",
    "repeated": "cr:repeated", "replace": "cr:replace", "samplingRate": "cr:samplingRate",
    "separator": "cr:separator", "source": "cr:source", "subField": "cr:subField", "transform": "cr:transform",
}
PARQUET = "application/x-parquet"
LICENCE_URLS = {"cc-by-4.0": "https://creativecommons.org/licenses/by/4.0/",
                "apache-2.0": "https://www.apache.org/licenses/LICENSE-2.0", "mit": "https://opensource.org/license/mit"}


def field(rs: str, name: str, dtype: str, description: str, **extra) -> dict:
    return {"@type": "cr:Field", "@id": f"{rs}/{name}", "name": name, "description": description,
            "dataType": dtype, "source": {"fileSet": {"@id": f"files-{rs}"}, "extract": {"column": name}}, **extra}


def record_set(cfg, split: str) -> dict:
    rs = f"{cfg.name}-{split}"
    spec = cfg.spec
    fields = [
        field(rs, "image", "cr:Float32", f"physical pixel values, float32 (C, H, W) = {tuple(spec.image_shape)}, "
              f"{spec.pixel_scale:g} arcsec per pixel", isArray=True, arrayShape=",".join(map(str, spec.image_shape))),
        field(rs, "label", "sc:Integer", "class index: " + ", ".join(f"{i} = {c}" for i, c in enumerate(spec.classes))),
        field(rs, "class_name", "sc:Text", "class name"),
    ]
    fields += [field(rs, c, "sc:Float", f"simulation parameter {c} (NaN where a class has none)")
               for c in cfg.meta.get("columns", [])]
    if spec.adapter:
        fields.append(field(rs, "source", "sc:Text", "the source file of the row"))
    return {"@type": "cr:RecordSet", "@id": rs, "name": rs,
            "description": f"{split} split of {spec.key} ({cfg.rows[split]} rows)", "field": fields}


def croissant(name: str, configs, preset: str, root: Path | None = None) -> dict:
    """The Croissant document of an export whose shards are listed in ``configs`` (paths relative to
    ``root``, the export folder; with ``root`` each shard's sha256 is recorded)."""
    licences = sorted({c.spec.licence for c in configs})
    hub = {card.hub_licence(t) for t in licences}
    distribution, record_sets = [], []
    for cfg in configs:
        for split in SPLITS:
            rs = f"{cfg.name}-{split}"
            distribution.append({"@type": "cr:FileSet", "@id": f"files-{rs}", "name": f"files-{rs}",
                                 "encodingFormat": PARQUET, "includes": f"data/{cfg.name}/{split}-*.parquet"})
            for rel in cfg.files[split]:
                obj = {"@type": "cr:FileObject", "@id": rel, "name": rel, "contentUrl": rel, "encodingFormat": PARQUET}
                if root is not None:
                    obj["sha256"] = sha256_of(Path(root) / rel)
                    obj["contentSize"] = f"{(Path(root) / rel).stat().st_size} B"
                distribution.append(obj)
            record_sets.append(record_set(cfg, split))
    simulated = any(c.spec.recipe for c in configs)
    collection = " ".join(f"{c.name}: {card.how_made(c)}" for c in configs)
    return {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "name": f"lensbench-{name.replace('/', '-')}-{preset}",
        "description": f"LensBench export of {name} at preset {preset}: "
                       + "; ".join(f"{c.spec.key} ({c.spec.description})" for c in configs),
        "url": "https://github.com/lensbench/lensbench",
        "version": "1.0.0",
        "datePublished": max(str(c.meta.get("built_at", ""))[:10] for c in configs) or None,
        "license": LICENCE_URLS.get(hub.pop(), "; ".join(licences)) if len(hub) == 1 else "; ".join(licences),
        "citeAs": " ".join(dict.fromkeys(c.spec.citation or "LensBench" for c in configs)),
        "keywords": ["gravitational lensing", "astronomy", "benchmark"] + (["simulation"] if simulated else []),
        "isLiveDataset": False,
        "identifier": [f"lensbench-fingerprint:{c.fingerprint}" for c in configs],
        "rai:dataCollection": collection,
        "rai:dataCollectionType": ["Simulation"] if simulated and not any(c.spec.adapter for c in configs)
        else ["Simulation", "Secondary Data Analysis"] if simulated else ["Secondary Data Analysis"],
        "rai:dataPreprocessingProtocol": "Images are stored as built by LensBench (float32, no further "
                                         "normalisation); see the dataset card for each recipe or file format.",
        "rai:dataAnnotationProtocol": "Labels are the simulated class (known by construction) or the class "
                                      "given by the source catalogue of real images.",
        "rai:dataLimitations": card.limitations(configs),
        "rai:dataBiases": card.biases(configs),
        "rai:personalSensitiveInformation": "None: images of galaxies and simulated skies; no people, no "
                                            "personal data.",
        "rai:dataUseCases": card.INTENDED_USE,
        "rai:dataSocialImpact": "Low: astrophysical images. Benchmarks can be gamed by training on public test "
                                "seeds; LensBench keeps a hidden-seed test set for verification.",
        "rai:hasSyntheticData": simulated,
        "rai:dataReleaseMaintenancePlan": "Versioned with LensBench: a change that alters any pixel changes the "
                                          "dataset version and the fingerprint; old versions stay reproducible.",
        "distribution": distribution,
        "recordSet": record_sets,
    }
