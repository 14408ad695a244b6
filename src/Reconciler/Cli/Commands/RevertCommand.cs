using System.CommandLine;
using Reconciler.Git;

namespace Reconciler.Cli;

/// <summary>`reconciler revert SHA`: writes the revert commit of a deployed commit, ready to push. docs/cli/revert.md.</summary>
internal static class RevertCommand
{
    public static Command Build()
    {
        var sha = new Argument<string>("sha") { Description = "The commit to revert (full or abbreviated SHA)." };
        var repo = new Option<string>("--repo") { Description = "Path of your clone of the infra repo.", DefaultValueFactory = _ => "." };
        var message = new Option<string?>("--message", "-m") { Description = "Commit message (default: Revert \"<subject>\" ... This reverts commit <sha>.)." };
        var mainline = new Option<int?>("--mainline") { Description = "For a merge commit: the parent number (1-based) whose side is kept, usually 1." };
        var command = new Command("revert", "Write the revert commit of SHA on the checked-out branch, ready to push; the daemon or CI then applies it.");
        command.Arguments.Add(sha);
        command.Options.Add(repo);
        command.Options.Add(message);
        command.Options.Add(mainline);
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            return await CliRunner.RunAsync(parse.InvocationConfiguration.Error, async () =>
            {
                var text = parse.GetValue(message);
                if (text is not null && string.IsNullOrWhiteSpace(text))
                    throw new UserError("--message is empty. Give a message, or leave --message out for the default one.");
                var result = GitRevert.Revert(parse.GetValue(repo)!, parse.GetValue(sha)!, text, parse.GetValue(mainline), DateTimeOffset.Now);
                await output.WriteLineAsync($"[{result.Branch} {result.NewSha[..12]}] {result.Message.Split('\n')[0]}");
                await output.WriteLineAsync($"reverts {result.RevertedSha}");
                await output.WriteLineAsync($"push it to deploy: git push origin {result.Branch}   (or open a pull request; its plan shows the downgrades)");
                return ExitCodes.Ok;
            });
        });
        return command;
    }
}
