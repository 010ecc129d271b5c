from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_JS = "vendor/plotly/plotly.min.js"


class PlotlyFinder(BaseFinder):
    """Serves plotly.min.js straight from the installed plotly wheel, and nothing else of it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        package_data = Path(plotly.__file__).parent / "package_data"
        self.storage = FileSystemStorage(location=package_data)
        self.storage.prefix = "vendor/plotly"

    def check(self, **kwargs):
        return []

    def find(self, path, find_all=False, **kwargs):
        if path != PLOTLY_JS:
            return []
        match = self.storage.path("plotly.min.js")
        return [match] if find_all else match

    def list(self, ignore_patterns):
        yield "plotly.min.js", self.storage
