using Reconciler.Consul;
using Reconciler.Git;
using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;

namespace Reconciler.UseCases;

/// <summary>The steps every use case that reads the infra repo shares: load it (with the parse cache under the repo),
/// pick the environment, and resolve its desired state, each failing with a message that says what to do.</summary>
public static class RepoLoading
{
    /// <summary>The model of the files <paramref name="infra"/> opened. Throws <see cref="InvalidRepoException"/> with
    /// every diagnostic when they do not validate.</summary>
    public static RepoModel Load(InfraRepo infra)
    {
        var cache = new FileParseCache(FileParseCache.DefaultDirectory(infra.Directory));
        var result = RepoLoader.Load(infra.Source, cache, CoreParallelism.Load);
        cache.Flush();
        if (!result.HasErrors) return result.Model!;
        throw new InvalidRepoException(new InvalidRepo(result.Diagnostics, infra.Describe()));
    }

    /// <summary><paramref name="requested"/> (--env), else the only environment of the repo.</summary>
    public static string Environment(RepoModel model, string? requested) =>
        requested ?? (model.Environments.Count == 1 ? model.Environments.Keys.Single()
            : throw new ReconcilerException(FailureKind.InvalidInput, model.Environments.Count == 0
                ? "the repo defines no environments; add environments/NAME.yaml."
                : $"choose an environment with --env NAME; the repo defines: {string.Join(", ", model.Environments.Keys)}."));

    /// <summary>The desired state of one environment; an environment the repo does not define is invalid input. With
    /// <paramref name="infra"/>, its host groups from the Consul catalog are resolved (<see cref="ResolveHosts"/>).</summary>
    public static DesiredState Desired(RepoModel model, string environment, InfraRepo? infra = null)
    {
        DesiredState desired;
        try
        {
            desired = DesiredStateBuilder.Build(model, environment);
        }
        catch (UnknownEnvironmentException e)
        {
            throw new ReconcilerException(FailureKind.InvalidInput, e.Message + ".");
        }
        return infra is null ? desired : ResolveHosts(desired, path => infra.ReadText(path));
    }

    /// <summary><paramref name="desired"/> with its catalog host groups' hosts read from the Consul agent of CONSUL_HTTP_ADDR
    /// now (plan time); <paramref name="readRepoFile"/> reads a group's pinned known_hosts from the same revision. Unchanged
    /// when every group is a static list. Throws <see cref="HostCatalogException"/> naming the group's file:line:col.</summary>
    public static DesiredState ResolveHosts(DesiredState desired, Func<string, string?> readRepoFile, CancellationToken ct = default)
    {
        if (!HostCatalog.Uses(desired.EnvironmentSpec)) return desired;
        using var client = Execution.ExecutorWiring.ConsulFromEnvironment();
        var environment = new HostCatalog(client, readRepoFile).ResolveAsync(desired.EnvironmentSpec, ct).GetAwaiter().GetResult();
        return desired with { EnvironmentSpec = environment };
    }
}
