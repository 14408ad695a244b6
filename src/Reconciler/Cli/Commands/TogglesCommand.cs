using System.CommandLine;
using Reconciler.UseCases;
using Reconciler.Views;

namespace Reconciler.Cli;

/// <summary>`reconciler toggles`: the toggle catalog (docs/cli/toggles.md).</summary>
internal static class TogglesCommand
{
    public static Command Build()
    {
        var command = new Command("toggles",
            "List every feature toggle per environment: its value in the repo and live, its requirements next to the versions running, when it was last switched and by which commit, and whether it is ready to remove.");
        var common = new CommonOptions(command);
        common.AddEnv(required: false, "Only this environment's rows (readiness to remove still looks at every environment).");
        common.AddRepo("The infra repo; toggles are read from its HEAD commit.");
        common.AddState();
        common.AddFormat();
        command.SetAction((parse, ct) => CliRunner.RunAsync(parse.InvocationConfiguration.Error, async () =>
        {
            var args = common.Read(parse);
            var result = await ShowToggles.RunAsync(new TogglesRequest(args.Repo, args.Env, args.State), TimeProvider.System, ct);
            if (!result.Succeeded) return await CliRunner.FailAsync(parse.InvocationConfiguration.Error, result);
            await parse.InvocationConfiguration.Output.WriteAsync(args.Json ? JsonView.Render(result.Value) : ToggleCatalogView.RenderText(result.Value));
            return null;
        }));
        return command;
    }
}
