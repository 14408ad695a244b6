using Reconciler.Consul;
using Reconciler.Git;
using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;

namespace Reconciler.UseCases;

/// <param name="Repo">--repo as typed.</param>
/// <param name="Rev">--rev: read that commit from Git objects; null: the files on disk.</param>
/// <param name="UseParseCache">Reuse (and refresh) parse results under REPO/.reconciler/cache/parse.</param>
/// <param name="Consul">The agent to check catalog host groups against; null: the one CONSUL_HTTP_ADDR names, if set.</param>
public sealed record ValidateRequest(string Repo, string? Rev, bool UseParseCache = true, Consul.ConsulClient? Consul = null);

/// <summary>Every finding of one load of the repo and what was read. An invalid repo is a report with errors, not a
/// failure: the findings are the answer.</summary>
/// <param name="Where">Where the files came from (<see cref="InfraRepo.Describe"/>).</param>
/// <param name="GitSubdirectory">The repo's path inside its Git repository ("" at the root or outside Git).</param>
public sealed record ValidationReport(
    IReadOnlyList<Diagnostic> Diagnostics, int Files, string Where, string GitSubdirectory, int Services, int Environments, int Toggles)
{
    public int Errors => Diagnostics.Count(d => d.Severity == Severity.Error);

    public int Warnings => Diagnostics.Count(d => d.Severity == Severity.Warning);

    public bool HasErrors => Errors > 0;

    /// <summary>What the command ended with: invalid input when there is an error, else success.</summary>
    public FailureKind? Outcome => HasErrors ? FailureKind.InvalidInput : null;
}

/// <summary>`reconciler validate`: YAML, schemas and cross-file rules of the repo at a commit or in the working tree.
/// Fails only when the repo cannot be read at all (no such directory, unknown revision, ...).</summary>
public static class ValidateRepo
{
    public static UseCaseResult<ValidationReport> Run(ValidateRequest request) => UseCaseResult.Catch(() =>
    {
        using var infra = InfraRepo.Open(request.Repo, request.Rev);
        var cache = request.UseParseCache ? new FileParseCache(FileParseCache.DefaultDirectory(infra.Directory)) : null;
        var result = RepoLoader.Load(infra.Source, cache, CoreParallelism.Load);
        cache?.Flush();
        if (result.Model is null && !result.Diagnostics.Any(d => d.Severity == Severity.Error))
            throw new InvalidOperationException("the loader returned no model and no error");
        var model = result.HasErrors ? null : result.Model;
        var diagnostics = model is null ? result.Diagnostics : [.. result.Diagnostics, .. CatalogFindings(model, infra, request.Consul)];
        return new ValidationReport(diagnostics, result.Stats.Files, infra.Describe(), infra.GitSubdirectory,
            model?.Services.Count ?? 0, model?.Environments.Count ?? 0, model?.Toggles.Count ?? 0);
    });

    /// <summary>Host groups from the Consul catalog, resolved as plan would: an unreachable agent, a service without
    /// instances or a node reconciler cannot use is an error at the group. Without an agent (no CONSUL_HTTP_ADDR) the
    /// files are still valid: each such group is a warning that it was not checked.</summary>
    private static List<Diagnostic> CatalogFindings(RepoModel model, InfraRepo infra, Consul.ConsulClient? consul)
    {
        var findings = new List<Diagnostic>();
        if (!model.Environments.Values.Any(HostCatalog.Uses)) return findings;
        using var owned = consul is null ? Execution.ExecutorWiring.ConsulFromEnvironment() : null;
        var client = consul ?? owned;
        foreach (var environment in model.Environments.Values.Where(HostCatalog.Uses))
        {
            if (client is null)
            {
                foreach (var group in environment.HostGroups.Values.Where(g => g.Catalog is not null))
                    findings.Add(new Diagnostic(Severity.Warning, "catalog.not-checked",
                        $"host group '{group.Name}' comes from the Consul catalog (service {group.Catalog!.Service}), which was not checked: CONSUL_HTTP_ADDR is not set. " +
                        "Set it to the agent to check that the group resolves; plan and apply of this environment need it.",
                        group.Location));
                continue;
            }
            var problems = new HostCatalog(client, infra.ReadText).ProblemsAsync(environment, CancellationToken.None).GetAwaiter().GetResult();
            findings.AddRange(problems.Select(p => new Diagnostic(Severity.Error, p.RuleId, p.Reason, p.Location)));
        }
        return findings;
    }
}
