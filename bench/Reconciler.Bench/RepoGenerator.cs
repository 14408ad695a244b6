using System.Globalization;
using System.Text;
using LibGit2Sharp;

namespace Reconciler.Bench;

/// <summary>
/// Generates a large, valid infra repo straight into Git objects (blobs, trees, one commit; no index, no
/// working-tree writes, so 5,000 files take a second) and then checks it out so the working tree matches.
/// Deterministic: a fixed seed, fixed timestamps, so every run yields the same commit SHA.
/// </summary>
public static class RepoGenerator
{
    public static readonly string[] Environments = ["dev", "staging", "production"];
    private const int HostGroups = 20;

    public static string Generate(string directory, int serviceCount, int toggleCount)
    {
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        Directory.CreateDirectory(directory);
        Repository.Init(directory);
        using var repo = new Repository(directory);
        var random = new Random(20261122);
        var tree = new TreeDefinition();
        void Add(string path, string content)
        {
            var blob = repo.ObjectDatabase.CreateBlob(new MemoryStream(Encoding.UTF8.GetBytes(content)), path);
            tree.Add(path, blob, Mode.NonExecutableFile);
        }

        Add("reconciler.yaml", """
            apiVersion: reconciler/v1
            kind: Repository
            state: sqlite:.reconciler/state.db
            defaults:
              keepReleases: 5
              onFailure: rollback
              strategy: { type: rolling, maxParallel: 25% }
              health: { interval: 1s, consecutivePasses: 2, minHealthy: 2s, deadline: 30s }

            """);
        foreach (var env in Environments) Add($"environments/{env}.yaml", Environment(env));
        var versions = new string[serviceCount];
        for (var i = 0; i < serviceCount; i++)
        {
            versions[i] = $"{1 + random.Next(3)}.{random.Next(20)}.{random.Next(10)}";
            Add($"services/{ServiceName(i)}.yaml", Service(i, versions[i], random));
        }
        for (var t = 0; t < toggleCount; t++)
        {
            var target = random.Next(serviceCount);
            Add($"toggles/toggle-{t:D4}.yaml", $"""
                apiVersion: reconciler/v1
                kind: Toggle
                name: toggle-{t:D4}
                description: Generated toggle {t}
                requires:
                  {ServiceName(target)}: ">={versions[target]}"
                environments:
                  dev: true
                  staging: {(t % 2 == 0 ? "true" : "false")}
                  production: false

                """);
        }

        var when = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var author = new Signature("bench", "bench@example.invalid", when);
        var commit = repo.ObjectDatabase.CreateCommit(author, author, $"generated: {serviceCount} services", repo.ObjectDatabase.CreateTree(tree), [], prettifyMessage: true);
        repo.Refs.Add("refs/heads/main", commit.Id, allowOverwrite: true);
        repo.Refs.UpdateTarget(repo.Refs.Head, "refs/heads/main");
        repo.Reset(ResetMode.Hard, commit);
        return commit.Sha;
    }

    public static string ServiceName(int i) => $"svc-{i:D5}";

    private static string Environment(string env)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"""
            apiVersion: reconciler/v1
            kind: Environment
            name: {env}

            """);
        if (env == "production") sb.Append("regions: [eu-west, us-east]\n");
        sb.Append("hostGroups:\n");
        var hostsPerGroup = env == "production" ? 4 : env == "staging" ? 2 : 1;
        var envIndex = Array.IndexOf(Environments, env);
        for (var g = 0; g < HostGroups; g++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"  group-{g:D2}:\n    hosts:\n");
            for (var h = 0; h < hostsPerGroup; h++)
            {
                sb.Append(CultureInfo.InvariantCulture, $"      - name: {env}-{g:D2}-{h}\n");
                sb.Append(CultureInfo.InvariantCulture, $"        address: 10.{envIndex}.{g}.{h + 10}\n");
                sb.Append("        user: deploy\n");
                sb.Append("        hostKey: \"SHA256:q3Zk0yT5mB8vLr2Xw9NcH4eJf7uPd6aGs1oKi0xYbE8\"\n");
                if (env == "production") sb.Append(h % 2 == 0 ? "        region: eu-west\n" : "        region: us-east\n");
            }
        }
        return sb.ToString();
    }

    private static string Service(int i, string version, Random random)
    {
        var name = ServiceName(i);
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(name + version)));
        // Dependencies only on lower-numbered services: acyclic, with chains and diamonds.
        var deps = i == 0 ? [] : Enumerable.Range(0, random.Next(4)).Select(_ => ServiceName(random.Next(i))).Distinct().Order(StringComparer.Ordinal).ToList();
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"""
            # yaml-language-server: $schema=../schemas/service.schema.json
            apiVersion: reconciler/v1
            kind: Service
            name: {name}
            version: {version}
            artifact:
              url: "https://artifacts.example.com/{name}/{name}-${"{"}version{"}"}.tar.gz"
              sha256: {sha}
            hostGroup: group-{i % HostGroups:D2}
            dependsOn: [{string.Join(", ", deps)}]
            deploy:
              driver: ssh
              path: /srv/{name}
              restartCommand: ./bin/restart
              stopCommand: ./bin/stop
              keepReleases: 5
            strategy: {(i % 3 == 0 ? "{ type: canary, canary: 1, maxParallel: 25% }" : "{ type: rolling, maxParallel: 2 }")}
            health:
              interval: 1s
              consecutivePasses: 2
              minHealthy: 2s
              deadline: 60s
              checks:
                - http: {"{"} url: "http://${"{"}host.address{"}"}:{8000 + i % 1000}/health", expectStatus: 200, timeout: 2s {"}"}
                - tcp: {"{"} port: {8000 + i % 1000} {"}"}
            config:
              PORT: "{8000 + i % 1000}"
              LOG_LEVEL: info
              WORKERS: "{1 + random.Next(16)}"
              CACHE_TTL: "{random.Next(3600)}s"
              UPSTREAM: http://{ServiceName(random.Next(Math.Max(1, i)))}.internal:8080
              DB_PASSWORD: {"{"} secret: env:{name.Replace('-', '_').ToUpperInvariant()}_DB_PASSWORD {"}"}
            environments:
              dev:
                config: {"{"} LOG_LEVEL: debug, WORKERS: "1" {"}"}
              staging:
                version: {version}
                config: {"{"} LOG_LEVEL: debug {"}"}
              production:
                strategy: {"{"} type: rolling, maxParallel: 25% {"}"}
                config: {"{"} LOG_LEVEL: warn {"}"}

            """);
        return sb.ToString();
    }
}
