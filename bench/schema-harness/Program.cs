using System.Diagnostics;
using Reconciler.Schema.Loading;

// Usage: dotnet run -c Release --project bench/schema-harness -- [services=5000] [cold|cache]
//        dotnet run -c Release --project bench/schema-harness -- yaml DIR [fast|yamldotnet] [rounds=5]   (YamlBench.cs)
//   cold:  one load in a fresh process (what `reconciler validate` does without a parse cache)
//   cache: fill a MemoryParseCache, change one service file, load again, then load unchanged three times
if (args is ["yaml", var yamlDir, .. var yamlRest])
{
    YamlBench.Run(yamlDir, fastPath: yamlRest is not ["yamldotnet", ..], rounds: yamlRest.Length > 1 ? int.Parse(yamlRest[1]) : 5);
    return;
}
var n = args.Length > 0 ? int.Parse(args[0]) : 5000;
var mode = args.Length > 1 ? args[1] : "cold";
var files = new Dictionary<string, string>();
files["reconciler.yaml"] = "apiVersion: reconciler/v1\nkind: Repository\ndefaults:\n  keepReleases: 5\n  strategy: { type: rolling, maxParallel: 25% }\n  health: { interval: 1s, consecutivePasses: 2, minHealthy: 2s, deadline: 30s }\n";
foreach (var env in new[] { "dev", "staging", "production" })
{
    var sb = new System.Text.StringBuilder($"apiVersion: reconciler/v1\nkind: Environment\nname: {env}\nregions: [eu-west, us-east]\nhostGroups:\n");
    for (var g = 0; g < 20; g++)
    {
        sb.Append($"  group-{g}:\n    hosts:\n");
        for (var h = 0; h < 10; h++) sb.Append($"      - {{ name: h-{g}-{h}, address: 10.{g}.{h}.1, region: {(h % 2 == 0 ? "eu-west" : "us-east")}, vars: {{ httpPort: \"8080\" }} }}\n");
    }
    files[$"environments/{env}.yaml"] = sb.ToString();
}
for (var i = 0; i < n; i++)
{
    var deps = i > 0 ? $"dependsOn: [svc-{i - 1}{(i > 10 ? $", svc-{i - 10}" : "")}]\n" : "";
    files[$"services/svc-{i}.yaml"] = $"""
# yaml-language-server: $schema=../../schemas/service.schema.json
apiVersion: reconciler/v1
kind: Service
name: svc-{i}
version: 1.{i % 50}.{i % 7}
artifact:
  url: artifacts/svc-{i}-${"{"}version{"}"}.tar.gz
  sha256: 3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550
hostGroup: group-{i % 20}
{deps}deploy:
  driver: ssh
  path: /srv/svc-{i}
  restartCommand: ./bin/restart --port ${"{"}host.vars.httpPort{"}"}
  keepReleases: 5
strategy:
  type: canary
  canary: 1
  maxParallel: 25%
health:
  interval: 1s
  consecutivePasses: 3
  minHealthy: 5s
  deadline: 60s
  checks:
    - http: {"{"} url: "http://${"{"}host.address{"}"}:8080/health", expectStatus: 200, timeout: 2s {"}"}
    - tcp: {"{"} port: 8080 {"}"}
onFailure: rollback
config:
  LOG_LEVEL: info
  WORKERS: 4
  RATIO: 1.10
  DB_URL: postgres://db:5432/svc{i}
  DB_PASSWORD: {"{"} secret: env:SVC_{i}_DB_PASSWORD {"}"}
environments:
  production:
    version: 1.{i % 50}.0
    config: {"{"} LOG_LEVEL: warn {"}"}
  dev:
    enabled: {(i % 3 == 0 ? "false" : "true")}

""";
}
for (var t = 0; t < 20; t++)
    files[$"toggles/t-{t}.yaml"] = $"apiVersion: reconciler/v1\nkind: Toggle\nname: t-{t}\nrequires:\n  svc-{t}: \">=1.0.0\"\nenvironments: {{ staging: true, production: false }}\n";
var process = Process.GetCurrentProcess();
var cache = mode == "cache" ? new MemoryParseCache() : null;
Measure("load", new InMemoryRepoSource(files));
if (cache is not null)
{
    files["services/svc-42.yaml"] = files["services/svc-42.yaml"].Replace("LOG_LEVEL: info", "LOG_LEVEL: debug");
    Measure("one file changed", new InMemoryRepoSource(files));
    for (var k = 0; k < 3; k++) Measure("unchanged", new InMemoryRepoSource(files));
}
process.Refresh();
Console.WriteLine($"process: cpu={process.TotalProcessorTime.TotalMilliseconds:F0}ms peak-working-set={process.PeakWorkingSet64 / 1024 / 1024}MB");

void Measure(string what, IRepoFileSource source)
{
    process.Refresh();
    var cpu = process.TotalProcessorTime;
    var allocated = GC.GetTotalAllocatedBytes(precise: true);
    var sw = Stopwatch.StartNew();
    var result = RepoLoader.Load(source, cache, new LoadOptions(Environment.ProcessorCount));   // as the engine loads
    sw.Stop();
    allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
    process.Refresh();
    Console.WriteLine($"{what}: files={result.Stats.Files} parsed={result.Stats.Parsed} cache-hits={result.Stats.CacheHits} " +
        $"diagnostics={result.Diagnostics.Length} wall={sw.Elapsed.TotalMilliseconds:F0}ms cpu={(process.TotalProcessorTime - cpu).TotalMilliseconds:F0}ms " +
        $"allocated={allocated / 1024 / 1024}MB");
}
