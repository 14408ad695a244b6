using System.CommandLine;
using Reconciler.Execution;
using Reconciler.State;
using Reconciler.Telemetry;
using Reconciler.UseCases;
using Reconciler.Views;
using Spectre.Console;

namespace Reconciler.Cli;

/// <summary>`reconciler apply`: plan, show, confirm and apply one environment, or apply a saved plan (docs/cli/apply.md).</summary>
internal static class ApplyCommand
{
    public static Command Build()
    {
        var cmd = new Command("apply", "Apply the desired state of one environment: plan, confirm, then roll out wave by wave with health gates.");
        var common = new CommonOptions(cmd);
        common.AddRepo("Infra repo directory (a Git work tree or a subdirectory of one).");
        common.AddRev("Apply this commit (SHA, branch, tag) read straight from Git. Default: HEAD when the work tree is clean, else the files on disk.");
        common.AddEnv(required: false, "Environment to apply. Default: the only environment, if there is exactly one.");
        var planFile = new Option<string?>("--plan") { Description = "Apply exactly this saved plan (`reconciler plan --out FILE`); refused if live state moved since." };
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not ask for confirmation (required when stdin is not a terminal)." };
        var maxParallel = new Option<int?>("--max-parallel") { Description = "At most N host steps (stage, switch, remove) at once across the apply; lowers a larger maxParallel (the plan says so). Default: 32, or the largest maxParallel of the plan." };
        var repairDrift = new Option<bool>("--repair-drift") { Description = "Ask the hosts first and repair each host that drifted from the store (re-switch, re-stage or restart), each shown in the plan with its reason, through the usual gates." };
        var preflightOnly = new Option<bool>("--preflight-only") { Description = "Only check what the apply needs (secrets resolve, artifacts match, hosts reachable and authenticated, disk space); change nothing. Exit 9 (or 3) on a problem." };
        foreach (var o in new Option[] { planFile, yes, maxParallel, preflightOnly, repairDrift }) cmd.Options.Add(o);
        common.AddState("State store URL; default: $RECONCILER_STATE, then reconciler.yaml's state. " + StateStores.AcceptedForms);
        var force = new Option<bool>("--force") { Description = "Break another applier's lock or apply during a freeze. Needs --reason; recorded in history." };
        var reason = new Option<string?>("--reason") { Description = "Why --force was needed (recorded in history)." };
        var sshKey = new Option<string?>("--ssh-key") { Description = "Private key for the ssh driver. Default: $RECONCILER_SSH_KEY, else ~/.ssh/id_ed25519." };
        var trustUnknown = new Option<bool>("--trust-unknown-host-keys") { Description = "Accept SSH hosts without a pinned hostKey (each is named in a warning). Without it they are refused." };
        var otel = new Option<string?>("--otel") { Description = "Telemetry exporter: console or none. OTLP is used when OTEL_EXPORTER_OTLP_ENDPOINT is set." };
        foreach (var o in new Option[] { force, reason, sshKey, trustUnknown, otel }) cmd.Options.Add(o);

        cmd.SetAction((parseResult, ct) =>
        {
            var stdout = parseResult.InvocationConfiguration.Output;
            var stderr = parseResult.InvocationConfiguration.Error;
            return CliRunner.RunAsync(stderr, () =>
            {
                var args = common.Read(parseResult);
                return RunAsync(new ApplyArgs(
                    args.Repo, args.Rev, args.Env, parseResult.GetValue(planFile),
                    parseResult.GetValue(yes), parseResult.GetValue(maxParallel), args.State, parseResult.GetValue(force),
                    parseResult.GetValue(reason), parseResult.GetValue(sshKey), parseResult.GetValue(trustUnknown), parseResult.GetValue(otel),
                    !CliApp.UseColor(parseResult, stdout), parseResult.GetValue(preflightOnly), parseResult.GetValue(repairDrift)), stdout, stderr, Console.In, ct);
            });
        });
        return cmd;
    }

    internal sealed record ApplyArgs(string Repo, string? Rev, string? Env, string? PlanFile, bool Yes, int? MaxParallel, string? State,
        bool Force, string? Reason, string? SshKey, bool TrustUnknownHostKeys, string? Otel, bool NoColor, bool PreflightOnly = false, bool RepairDrift = false);

    internal static async Task<FailureKind?> RunAsync(ApplyArgs a, TextWriter stdout, TextWriter stderr, TextReader stdin, CancellationToken ct)
    {
        if (a.MaxParallel is < 1) throw new UserError("--max-parallel must be at least 1.");
        if (a.Reason is not null && !a.Force) throw new UserError("--reason goes with --force; without --force there is nothing to justify.");
        using var telemetry = TelemetrySetup.Start(a.Otel);

        var prepared = await ApplyEnvironment.PrepareAsync(new ApplyRequest(a.Repo, a.Rev, a.Env, a.PlanFile, a.State, a.Force, a.Reason, a.MaxParallel,
            a.SshKey, a.TrustUnknownHostKeys, $"{Environment.UserName}@{Environment.MachineName}", stderr, a.RepairDrift), TimeProvider.System, ct);
        if (!prepared.Succeeded) return await CliRunner.FailAsync(stderr, prepared, a.Repo, "nothing was applied");
        await using var apply = prepared.Value;

        if (a.PreflightOnly)
        {
            if (!apply.FromSavedPlan) await stdout.WriteAsync(TextPlanView.Render(apply.Plan, color: false, withGate: false));
            var checkedOnly = await apply.PreflightAsync(ct);
            if (!checkedOnly.Succeeded) return await CliRunner.FailAsync(stderr, checkedOnly);
            await (checkedOnly.Value.Succeeded ? stdout : stderr).WriteLineAsync(ApplyView.Outcome(checkedOnly.Value));
            return checkedOnly.Value.Failure;
        }
        if (!apply.FromSavedPlan)
        {
            await stdout.WriteAsync(TextPlanView.Render(apply.Plan, color: false, withGate: false));
            foreach (var note in apply.ParallelismNotes) await stdout.WriteLineAsync("note: " + note);
            if (apply.NothingToApply)
            {
                // The plan above already says "No changes." The reconciler still records a new commit that live already
                // matches (a revert of a rolled-back commit) as the last good one, as `run` does.
                var converged = await apply.ExecuteAsync(null, ct);
                return converged.Succeeded ? converged.Value.Failure : await CliRunner.FailAsync(stderr, converged);
            }
            if (apply.UnfinishedCommit is { } unfinished)
                await stdout.WriteLineAsync(ApplyView.Unfinished(unfinished, apply.Environment));
            if (!a.Yes && !await ConfirmAsync(apply.Environment, stdout, stdin))
            {
                await stderr.WriteLineAsync(ApplyView.Cancelled);
                return FailureKind.InvalidInput;
            }
        }

        // Live progress only on a colour terminal (CliApp.UseColor; --no-color gives plain progress lines).
        var useLive = !a.NoColor;
        UseCaseResult<ReconcileOutcome> result;
        if (useLive)
        {
            var view = new LiveProgressView(AnsiConsole.Console);
            result = await view.RunAsync(apply.ExecuteAsync(view, ct));
            if (result.Succeeded) view.WriteSummary(result.Value);
        }
        else
        {
            result = await apply.ExecuteAsync(new PlainProgressView(stdout), ct);
        }
        if (!result.Succeeded) return await CliRunner.FailAsync(stderr, result);
        var outcome = result.Value;
        await (outcome.Succeeded ? stdout : stderr).WriteLineAsync(ApplyView.Outcome(outcome));
        return outcome.Failure;
    }

    private static async Task<bool> ConfirmAsync(string environment, TextWriter stdout, TextReader stdin)
    {
        if (Console.IsInputRedirected && ReferenceEquals(stdin, Console.In))
            throw new UserError("stdin is not a terminal, so apply cannot ask for confirmation; review the plan above and re-run with --yes.");
        await stdout.WriteAsync(ApplyView.Question(environment));
        await stdout.FlushAsync();
        var answer = (await stdin.ReadLineAsync())?.Trim();
        return answer is "y" or "Y" or "yes" or "YES" or "Yes";
    }
}
