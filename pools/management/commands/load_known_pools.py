from django.core.management.base import BaseCommand

from pools.services.known import KNOWN_POOLS_FILE, load_known_pools


class Command(BaseCommand):
    help = (
        "Loads pools/known_pools.json (or --file) into the known pools table, by key, and "
        "updates the pools made from its entries. Run it after every upgrade."
    )

    def add_arguments(self, parser):
        parser.add_argument("--file", default=str(KNOWN_POOLS_FILE))

    def handle(self, *args, file, **options):
        count = load_known_pools(path=file)
        self.stdout.write(f"{count} known pools loaded from {file}")
