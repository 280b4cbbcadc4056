#!/bin/sh
# Checks every policy config file (policies/config/*.json) with the Pulumi CLI
# against the configuration schemas of the mailfleet policy pack as published
# to Pulumi Cloud, at the version this checkout declares (policies/package.json):
#
#   pulumi policy validate-config <org>/mailfleet <version> --config <file>
#
# Used by the policy job of examples/ci/github-actions.yml and gitlab-ci.yml;
# run it from the repository root with a logged-in CLI (OIDC in the pipelines):
#
#   sh examples/ci/validate-policy-configs.sh <pulumi-org>
#
# validate-config can only check a published version. When this version is not
# published yet (the release pipeline publishes it: docs/release.md), the
# script says so and exits 0: `npm test` has validated every policy config
# against the schemas this checkout's pack reports (test/policies/analyzer.test.ts).
# A version that is published but lacks a policy the configs name fails
# here — the sign that the pack changed without a version bump.
set -eu

org="${1:?usage: sh examples/ci/validate-policy-configs.sh <pulumi-org>}"
# The name the pack registers (policies/policies.ts POLICY_PACK_NAME), not the npm package's.
pack=mailfleet
version=$(node -p 'require("./policies/package.json").version')

published=$(pulumi policy ls "$org" --json | node -e '
  const [pack, version] = process.argv.slice(1);
  const packs = JSON.parse(require("fs").readFileSync(0, "utf8")) ?? [];
  const found = packs.find((p) => p.name === pack);
  process.stdout.write(found && (found.versions ?? []).includes(version) ? "yes" : "no");
' "$pack" "$version")

if [ "$published" != yes ]; then
  echo "Policy pack $org/$pack $version is not published to Pulumi Cloud yet (the release pipeline publishes it);"
  echo "npm test validated policies/config/*.json against this checkout's pack (test/policies/analyzer.test.ts)."
  exit 0
fi

status=0
for config in policies/config/*.json; do
  echo "pulumi policy validate-config $org/$pack $version --config $config"
  pulumi policy validate-config "$org/$pack" "$version" --config "$config" || status=1
done
exit "$status"
