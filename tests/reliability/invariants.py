"""What must hold after any publish, however it ended: checked against the real registry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.reliability.project import Project, registry_tags


@dataclass
class Release:
    """What a project copy's build says a complete release is: per product, tag and images."""

    products: dict[str, dict[str, Any]]
    images: dict[str, dict[str, Any]]

    @classmethod
    def of(cls, project: Project) -> Release:
        report = project.report()
        return cls(report["rpms"]["products"], report["containers"]["images"])

    def repo(self, image: str) -> str:
        return str(self.images[image]["reference"]).split("/", 1)[1].rsplit(":", 1)[0]

    def unique_tag(self, image: str) -> str:
        return str(self.products[self.images[image]["product"]]["tag"])

    def floating_tag(self, image: str) -> str:
        return str(self.products[self.images[image]["product"]]["version"])

    def of_product(self, product: str) -> list[str]:
        return [name for name, e in self.images.items() if e["product"] == product]


def check_published(project: Project, registry_url: str, what: str) -> None:
    """No floating tag on an image of an incomplete set; every release record whole (each image
    with the digest the registry has) and only for a complete set; report.json valid JSON."""
    json.loads((project.build_dir / "report.json").read_text())
    release = Release.of(project)
    tags = registry_tags(registry_url)

    def digest(image: str, tag: str) -> str | None:
        return tags.get(release.repo(image), {}).get(tag)

    for product, entry in release.products.items():
        images = release.of_product(product)
        complete = all(digest(i, release.unique_tag(i)) for i in images)
        for image in images:
            floating = digest(image, release.floating_tag(image))
            if floating is not None and floating == digest(image, release.unique_tag(image)):
                assert complete, (
                    f"{what}: {image}:{release.floating_tag(image)} floats onto an incomplete "
                    f"{product} set"
                )
        record_path = project.build_dir / "releases" / f"{product}-{entry['tag']}" / "record.json"
        if not record_path.exists():
            continue
        record = json.loads(record_path.read_text())
        assert record["product"] == product and record["tag"] == entry["tag"], what
        assert record["manifests"], f"{what}: a release record without manifests"
        assert complete, f"{what}: a release record for an incomplete {product} set"
        assert set(record["images"]) == {release.images[i]["reference"] for i in images}, what
        for image in images:
            assert record["images"][release.images[image]["reference"]] == digest(
                image, release.unique_tag(image)
            ), f"{what}: the record's digest of {image} differs from the registry's"
