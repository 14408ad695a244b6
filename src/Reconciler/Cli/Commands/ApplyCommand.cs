using System.CommandLine;
using Reconciler.Daemon;
using Reconciler.Diff.Planning;
using Reconciler.Drivers;
using Reconciler.Drivers.Artifacts;
using Reconciler.Execution;
using Reconciler.Git;
using Reconciler.Notifications;
using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.Telemetry;
using Reconciler.Views;
using Spectre.Console;

namespace Reconciler.Cli;

/// <summary>`reconciler apply`: plan, show, confirm and apply one environment, or apply a saved plan (docs/cli/apply.md).</summary>
internal static class ApplyCommand
{
    public static Command Build()
    {
        var repo = new Option<string>("--repo") { Description = "Infra repo directory (a Git work tree or a subdirectory of one).", DefaultValueFactory = _ => "." };
        var rev = new Option<string?>("--rev") { Description = "Apply this commit (SHA, branch, tag) read straight from Git. Default: HEAD when the work tree is clean, else the files on disk." };
        var env = new Option<string?>("--env") { Description = "Environment to apply. Default: the only environment, if there is exactly one." };
        var planFile = new Option<string?>("--plan") { Description = "Apply exactly this saved plan (`reconciler plan --out FILE`); refused if live state moved since." };
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not ask for confirmation (required when stdin is not a terminal)." };
        var maxParallel = new Option<int?>("--max-parallel") { Description = "At most N host steps (stage, switch, remove) at once across the apply. Default 32." };
        var state = new Option<string?>("--state") { Description = "State store URL; default: $RECONCILER_STATE, then reconciler.yaml's state. " + StateStores.AcceptedForms };
        var force = new Option<bool>("--force") { Description = "Break another applier's lock or apply during a freeze. Needs --reason; recorded in history." };
        var reason = new Option<string?>("--reason") { Description = "Why --force was needed (recorded in history)." };
        var sshKey = new Option<string?>("--ssh-key") { Description = "Private key for the ssh driver. Default: $RECONCILER_SSH_KEY, else ~/.ssh/id_ed25519." };
        var trustUnknown = new Option<bool>("--trust-unknown-host-keys") { Description = "Accept SSH hosts without a pinned hostKey (each is named in a warning). Without it they are refused." };
        var otel = new Option<string?>("--otel") { Description = "Telemetry exporter: console or none. OTLP is used when OTEL_EXPORTER_OTLP_ENDPOINT is set." };
        var noColor = new Option<bool>("--no-color") { Description = "Plain progress lines and no colour even on a terminal." };

        var cmd = new Command("apply", "Apply the desired state of one environment: plan, confirm, then roll out wave by wave with health gates.");
        foreach (var o in new Option[] { repo, rev, env, planFile, yes, maxParallel, state, force, reason, sshKey, trustUnknown, otel, noColor }) cmd.Options.Add(o);

        cmd.SetAction((parseResult, ct) =>
        {
            var stdout = parseResult.InvocationConfiguration.Output;
            var stderr = parseResult.InvocationConfiguration.Error;
            return CliRunner.RunAsync(stderr, () => RunAsync(new ApplyArgs(
                parseResult.GetValue(repo)!, parseResult.GetValue(rev), parseResult.GetValue(env), parseResult.GetValue(planFile),
                parseResult.GetValue(yes), parseResult.GetValue(maxParallel), parseResult.GetValue(state), parseResult.GetValue(force),
                parseResult.GetValue(reason), parseResult.GetValue(sshKey), parseResult.GetValue(trustUnknown), parseResult.GetValue(otel),
                parseResult.GetValue(noColor)), stdout, stderr, Console.In, ct));
        });
        return cmd;
    }

    internal sealed record ApplyArgs(string Repo, string? Rev, string? Env, string? PlanFile, bool Yes, int? MaxParallel, string? State,
        bool Force, string? Reason, string? SshKey, bool TrustUnknownHostKeys, string? Otel, bool NoColor);

    internal static async Task<int> RunAsync(ApplyArgs a, TextWriter stdout, TextWriter stderr, TextReader stdin, CancellationToken ct)
    {
        if (a.MaxParallel is < 1) throw new UserError("--max-parallel must be at least 1.");
        if (a.Reason is not null && !a.Force) throw new UserError("--reason goes with --force; without --force there is nothing to justify.");
        using var telemetry = TelemetrySetup.Start(a.Otel);

        Plan? saved = null;
        if (a.PlanFile is not null)
        {
            saved = JsonPlanView.Read(ReadFile(a.PlanFile), a.PlanFile);
            if (a.Env is not null && a.Env != saved.Environment)
                throw new UserError($"{a.PlanFile} is a plan for '{saved.Environment}', not '{a.Env}'; drop --env or pass the plan of '{a.Env}'.");
            if (a.Rev is not null)
                throw new UserError($"--rev and --plan exclude each other: the saved plan is bound to commit {saved.Commit}.");
        }

        // A saved plan is re-applied against the desired state of its own commit.
        var revision = saved is null ? a.Rev : saved.Commit == WorkingTreeSource.WorkingTreeRevision ? null : saved.Commit;
        using var infra = InfraRepo.Open(a.Repo, revision);
        var model = Load(infra, a, stderr);
        var environment = saved?.Environment ?? a.Env ?? (model.Environments.Count == 1 ? model.Environments.Keys.Single()
            : throw new UserError(model.Environments.Count == 0
                ? "the repo defines no environments; add environments/NAME.yaml."
                : $"choose an environment with --env NAME; the repo defines: {string.Join(", ", model.Environments.Keys)}."));
        DesiredState desired;
        try
        {
            desired = DesiredStateBuilder.Build(model, environment);
        }
        catch (UnknownEnvironmentException e)
        {
            throw new UserError(e.Message + ".");
        }
        desired = desired with { Revision = infra.BoundRevision };
        if (desired.Revision == WorkingTreeSource.WorkingTreeRevision)
            await stderr.WriteLineAsync($"warning: applying {infra.Describe()}; history will record 'working-tree', which no revert can name. Commit first to apply a commit.");

        var time = TimeProvider.System;
        await using var store = StateStores.Open(StateStores.UrlFor(a.State, model.Repository.StateUrl), infra.Directory, time);
        // A commit's repo-relative artifacts come from its Git objects, not from whatever the work tree holds now.
        IArtifactFetcher? artifacts = infra.Source.Revision == WorkingTreeSource.WorkingTreeRevision ? null
            : new GitArtifactFetcher(infra.Directory, infra.Source.Revision, infra.GitSubdirectory,
                ArtifactFetcher.DefaultCacheDirectory(infra.Directory), HostDrivers.Artifacts(infra.Directory, ExecutorWiring.Http));
        var deps = ExecutorWiring.Dependencies(store, infra.Directory, time,
            ExecutorWiring.DriverOptions(infra.Directory, a.SshKey, a.TrustUnknownHostKeys, stderr, environment), artifacts);
        await using var notifier = new Notifier(ExecutorWiring.Http, stderr);
        IReconciler reconciler = ExecutorWiring.Reconciler(deps, observer: notifier);

        if (saved is null)
        {
            var live = await store.ReadAsync(environment, ct);
            var journal = await store.ReadOpenJournalAsync(environment, ct);
            var plan = ExecutorWiring.Plan(desired, live);
            await stdout.WriteAsync(TextPlanView.Render(plan, color: false));
            if (!plan.HasChanges && journal.Count == 0)
            {
                // The plan above already says "No changes." The reconciler still records a new commit that live already
                // matches (a revert of a rolled-back commit) as the last good one, as `run` does.
                var converged = await reconciler.ReconcileAsync(
                    new ReconcileRequest(desired, $"{Environment.UserName}@{Environment.MachineName}", null, plan, a.Force, a.Reason, a.MaxParallel), null, ct);
                return ExitCodes.For(converged.Failure);
            }
            if (journal.Count > 0)
                await stdout.WriteLineAsync($"An earlier apply of {Short(journal[0].Commit)} to {environment} did not finish; it will be resumed or repaired first.");
            if (!a.Yes && !await ConfirmAsync(environment, stdout, stdin))
            {
                await stderr.WriteLineAsync("apply cancelled; nothing was changed.");
                return ExitCodes.Error;
            }
            // Apply exactly what was shown: if live state moved while the user read it, refuse (exit 5).
            saved = journal.Count == 0 ? plan : null;
        }

        var request = new ReconcileRequest(desired, $"{Environment.UserName}@{Environment.MachineName}", null, saved, a.Force, a.Reason, a.MaxParallel);
        var useLive = !a.NoColor && ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected
                      && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));
        ReconcileOutcome outcome;
        if (useLive)
        {
            var view = new LiveProgressView(AnsiConsole.Console);
            outcome = await view.RunAsync(reconciler.ReconcileAsync(request, view, ct));
        }
        else
        {
            outcome = await reconciler.ReconcileAsync(request, new PlainProgressView(stdout), ct);
        }

        var target = ExitCodes.For(outcome.Failure) == ExitCodes.Ok ? stdout : stderr;
        await target.WriteLineAsync(outcome.Result switch
        {
            ApplyResult.Succeeded or ApplyResult.NoChanges => outcome.Message,
            _ => "error: " + outcome.Message,
        });
        return ExitCodes.For(outcome.Failure);
    }

    private static async Task<bool> ConfirmAsync(string environment, TextWriter stdout, TextReader stdin)
    {
        if (Console.IsInputRedirected && ReferenceEquals(stdin, Console.In))
            throw new UserError("stdin is not a terminal, so apply cannot ask for confirmation; review the plan above and re-run with --yes.");
        await stdout.WriteAsync($"Apply these changes to {environment}? [y/N] ");
        await stdout.FlushAsync();
        var answer = (await stdin.ReadLineAsync())?.Trim();
        return answer is "y" or "Y" or "yes" or "YES" or "Yes";
    }

    private static RepoModel Load(InfraRepo infra, ApplyArgs a, TextWriter stderr)
    {
        var cache = new FileParseCache(FileParseCache.DefaultDirectory(infra.Directory));
        var result = RepoLoader.Load(infra.Source, cache, CoreParallelism.Load);
        cache.Flush();
        if (!result.HasErrors) return result.Model!;
        var prefix = a.Repo is "." or "./" ? "" : a.Repo.TrimEnd('/') + "/";
        var errors = result.Diagnostics.Count(d => d.Severity == Severity.Error);
        stderr.Write(ValidateOutput.Text(result.Diagnostics, prefix, $"{errors} error(s) in {infra.Describe()}; nothing was applied."));
        throw new UserError($"the repo is not valid at {infra.Describe()}; fix the errors above (`reconciler validate` lists them too).");
    }

    private static string ReadFile(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"{path}: cannot read the saved plan: {e.Message}");
        }
    }

    private static string Short(string commit) => commit.Length > 12 && commit.All(char.IsAsciiHexDigit) ? commit[..12] : commit;
}
