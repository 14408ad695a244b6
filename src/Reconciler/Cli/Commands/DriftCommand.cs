using System.CommandLine;
using Reconciler.UseCases;
using Reconciler.Views;

namespace Reconciler.Cli;

/// <summary>`reconciler drift`: the hosts whose actual state differs from the store, with the kind of each difference
/// (docs/cli/drift.md). With --detailed-exitcode: 0 no drift, 2 drift, as `plan --detailed-exitcode` says changes.</summary>
internal static class DriftCommand
{
    public static Command Build()
    {
        var command = new Command("drift", "List the hosts whose actual state (current release, release files, health, reachability) differs from what the store recorded.");
        var common = new CommonOptions(command);
        common.AddEnv(required: true);
        common.AddRepo("The infra repo; desired state is read from its HEAD commit.");
        common.AddState();
        common.AddFormat();
        var detailed = new Option<bool>("--detailed-exitcode") { Description = "Exit 0 when no host drifted, 2 when some did (other failures keep their codes)." };
        command.Options.Add(detailed);
        var access = new HostAccessOptions(command);
        command.SetAction((parse, ct) => CliRunner.RunAsync(parse.InvocationConfiguration.Error, async () =>
        {
            var args = common.Read(parse);
            var request = new StatusRequest(args.Repo, args.Environment, args.State, access.Read(parse, parse.InvocationConfiguration.Error));
            var result = await ShowStatus.RunAsync(request, TimeProvider.System, ct);
            if (!result.Succeeded) return ExitCodes.For(await CliRunner.FailAsync(parse.InvocationConfiguration.Error, result));
            var observed = result.Value.Live!;
            await parse.InvocationConfiguration.Output.WriteAsync(args.Json ? JsonView.Render(LiveView.DriftDocument(observed)) : LiveView.RenderDrift(observed));
            return parse.GetValue(detailed) && observed.Drifted.Any() ? ExitCodes.Changes : ExitCodes.Ok;
        }));
        return command;
    }
}
