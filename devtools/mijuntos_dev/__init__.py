"""Development tools for mijuntos, kept out of the production install.

The stand-in Africa's Talking server (`mijuntos fake-at`, SMS and voice), the demo-data
generator (`mijuntos demo-data`), a phone at the terminal (`mijuntos dial`, `mijuntos sms`,
`mijuntos call`) and the one-command demo (`mijuntos up`). Installed by `pip install -e
./devtools` (scripts/demo and scripts/test do it); they join the `mijuntos` command through the
`mijuntos.commands` entry points in devtools/pyproject.toml. A production install (`pip
install .`) has none of them.
"""
