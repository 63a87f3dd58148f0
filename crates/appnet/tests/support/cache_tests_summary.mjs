// Counts a results file of the HTTP caching test suite (http-tests/cache-tests) the way the
// suite's own display does, for a shared cache: browser-only tests left out, a test whose
// dependency did not pass counted as a dependency failure, `kind` deciding what a failure
// means (required: a conformance failure; optimal: a missed chance; check: information).
//
//   node cache_tests_summary.mjs SUITE_DIR RESULTS.json   prints one JSON object
import fs from 'fs'
import path from 'path'
import { pathToFileURL } from 'url'

const [suiteDir, resultsFile] = process.argv.slice(2)
const load = (p) => import(pathToFileURL(path.join(suiteDir, p)).href)
const suites = (await load('tests/index.mjs')).default
suites.push((await load('tests/surrogate-control.mjs')).default)
const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8'))
const tests = new Map()
for (const suite of suites) for (const test of suite.tests) tests.set(test.id, test)

function verdict (id) {
  const test = tests.get(id)
  const result = results[id]
  if (result === undefined) return 'untested'
  for (const dependency of test.depends_on || []) {
    if (!['pass', 'yes'].includes(verdict(dependency))) return 'dependency_fail'
  }
  if (Array.isArray(result) && result[0] === 'Setup') {
    return result[1] === 'retry' ? 'retry' : 'setup_fail'
  }
  const kind = test.kind || 'required'
  if (kind === 'required') return result === true ? 'pass' : 'fail'
  if (kind === 'optimal') return result === true ? 'pass' : 'optional_fail'
  return result === true ? 'yes' : 'no'
}

const counts = {}
const requiredNotPassed = []
for (const [id, test] of tests) {
  if (test.browser_only) continue
  const kind = test.kind || 'required'
  const outcome = verdict(id)
  const key = `${kind}:${outcome}`
  counts[key] = (counts[key] || 0) + 1
  if (kind === 'required' && outcome !== 'pass') {
    requiredNotPassed.push({ id, outcome, result: results[id] })
  }
}
console.log(JSON.stringify({ counts, required_not_passed: requiredNotPassed }))
