using LibGit2Sharp;
using Reconciler.Engine.Tests.Git;
using Reconciler.Engine.Tests.Infrastructure;
using Reconciler.Testing;

namespace Reconciler.Engine.Tests.UseCases;

/// <summary>
/// A small infra repo in a real Git repository for the use-case tests: environment "test" (and optionally "prod") with
/// one host on the local driver, and service "api" whose health check is a command that passes at once, so a real
/// apply takes a fraction of a second. State goes to the default SQLite file under the repo.
/// </summary>
internal sealed class InfraRepoFixture : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly TestArtifact _artifact;

    public InfraRepoFixture(bool twoEnvironments = false)
    {
        Git = new GitTestRepo(_dir.Combine("infra"));
        _artifact = TestArtifact.WithRestartRecorder(System.IO.Path.Combine(Git.Path, "artifacts"), "api.tar.gz");
        Commands.Stage(Git.Repo, "artifacts/api.tar.gz");
        List<(string, string?)> files =
        [
            (".gitignore", ".reconciler/\n"),
            ("reconciler.yaml", "apiVersion: reconciler/v1\nkind: Repository\n"),
            ("environments/test.yaml", Environment("test")),
            ("services/api.yaml", Service("1.0.0")),
        ];
        if (twoEnvironments) files.Add(("environments/prod.yaml", Environment("prod")));
        Head = Git.Commit("api 1.0.0", [.. files]).Sha;
    }

    public GitTestRepo Git { get; }

    public string Path => Git.Path;

    /// <summary>The last commit made through this fixture.</summary>
    public string Head { get; private set; }

    public string Combine(params string[] parts) => _dir.Combine(parts);

    public string StateFile => System.IO.Path.Combine(Path, ".reconciler", "state.db");

    /// <summary>Commits a new version of api.</summary>
    public string CommitVersion(string version) => Head = Git.Commit($"api {version}", ("services/api.yaml", Service(version))).Sha;

    /// <summary>Commits a service file that does not validate (no version).</summary>
    public string CommitInvalid() => Head = Git.Commit("broken", ("services/api.yaml", Service("1.0.0").Replace("version: 1.0.0\n", ""))).Sha;

    private static string Environment(string name) => $"""
        apiVersion: reconciler/v1
        kind: Environment
        name: {name}
        hostGroups:
          local:
            hosts:
              - name: local-1
                address: 127.0.0.1
                user: deploy
        """;

    private string Service(string version) => $$"""
        apiVersion: reconciler/v1
        kind: Service
        name: api
        version: {{version}}
        artifact:
          url: artifacts/api.tar.gz
          sha256: {{_artifact.Sha256}}
        hostGroup: local
        deploy:
          driver: local
          path: /srv/api
          restartCommand: ./bin/restart
        health:
          interval: 100ms
          consecutivePasses: 1
          minHealthy: 100ms
          deadline: 10s
          checks:
            - command: { run: "true", timeout: 5s }
        config:
          GREETING: hello
        """;

    public void Dispose()
    {
        Git.Dispose();
        _dir.Dispose();
    }
}
