"""Create template.yaml's tables and queues in moto and resolve the functions' environment.

The same code the local stack uses (local/template.py, local/aws.py), so tests and `make dev` build
their AWS resources from the template in one way.
"""

from pathlib import Path

from local.aws import create_resources as create_template_resources
from local.template import Resolver, Template, cfn_string


def create_resources(template_path: Path) -> dict[str, str]:
    template = Template(template_path)
    resolver = Resolver(template, create_template_resources(template))
    values = {name: resolver.resolve(value) for name, value in template.global_environment.items()}
    return {name: cfn_string(value) for name, value in values.items() if value is not None}
