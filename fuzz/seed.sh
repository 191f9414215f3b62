#!/usr/bin/env bash
# Seeds each target's corpus (fuzz/corpus/<target>/) with the fixture files
# of its kind, at run time: the fixtures stay the one copy in the repository.
# Targets whose first input byte picks a file kind get that byte prepended.
# Existing corpus entries (what earlier runs found) are kept.
set -euo pipefail
cd "$(dirname "$0")"
fixtures=../fixtures

seed() { # target, selector byte (or ""), find expression...
  local target=$1 selector=$2
  shift 2
  mkdir -p "corpus/$target"
  find "$fixtures" -type f \( "$@" \) -print0 |
    while IFS= read -r -d '' file; do
      local name
      name="seed-$(printf '%s' "${file#"$fixtures"/}" | tr '/' '_')"
      if [ -n "$selector" ]; then
        { printf "\\x$selector"; cat "$file"; } >"corpus/$target/$name"
      else
        cp "$file" "corpus/$target/$name"
      fi
    done
}

seed python "" -name '*.py'
seed shell "" -name '*.sh' -o -name run -o -name 'start*' -o -name '*entrypoint*'
seed compose "" -name 'docker-compose*.yml' -o -name 'compose*.y*ml'
seed kubernetes "" -path '*k8s*' -name '*.y*ml' -o -name 'kustomization.yaml' -o -path '*manifests*' -name '*.y*ml'
seed helm "" -path '*/templates/*' -name '*.y*ml'
seed terraform "" -name '*.tf'
seed supervisord "" -name 'supervisord*.conf'
seed dockerfile "" -name 'Dockerfile*'
seed procfile "" -name 'Procfile*'
seed pgbouncer "" -name 'pgbouncer*.ini'
seed pgconf "" -name '*.conf'
seed uwsgi "" -name 'uwsgi*.ini'
seed dotenv "" -name '.env*' -o -name '*.env'
seed config 00 -name poolcheck.toml
seed config 01 -name pyproject.toml
seed pins 00 -name 'requirements*.txt'
mkdir -p corpus/project
for dir in corpus/*/; do
  printf '%s %s\n' "$(find "$dir" -type f | wc -l)" "$(basename "$dir")"
done
