#!/usr/bin/env bash
# The method is docs/method.md, in the repository: no file may cite a METHOD.md that users of the
# repository do not have, and every "method.md section N" must name a section that exists there.
#   method_citations_test.sh REPO_ROOT
set -euo pipefail
root=$1
cd "$root"
files=$(find README.md docs src include tests scripts bench fuzz report -type f \
          \( -name '*.md' -o -name '*.cpp' -o -name '*.h' -o -name '*.sh' -o -name '*.py' \
             -o -name '*.js' -o -name '*.mjs' -o -name '*.txt' -o -name '*.cmake' \) \
          -not -path '*/node_modules/*' -not -name method_citations_test.sh | sort)
status=0
if bad=$(grep -n 'METHOD\.md' $files); then
  echo "cites METHOD.md (use docs/method.md):"; echo "$bad"; status=1
fi
sections=$(grep -oE '^## [0-9]+\.' docs/method.md | grep -oE '[0-9]+' | sort -n | tr '\n' ' ')
[ -n "$sections" ] || { echo "docs/method.md has no numbered sections"; exit 1; }
n_cites=0
while IFS= read -r hit; do
  n_cites=$((n_cites + 1))
  for n in $(sed -E 's/.*method\.md\)? sections? ([0-9, and-]+).*/\1/' <<<"${hit#*:*:}" | grep -oE '[0-9]+'); do
    if ! grep -qw "$n" <<<"$sections"; then
      echo "cites docs/method.md section $n, which does not exist (sections: $sections): $hit"; status=1
    fi
  done
done < <(grep -noE 'method\.md\)? sections? [0-9]+([-, ]+(and )?[0-9]+)*' $files || true)
echo "checked $(wc -w <<<"$files") files, $n_cites citations of docs/method.md; sections: $sections"
exit $status
