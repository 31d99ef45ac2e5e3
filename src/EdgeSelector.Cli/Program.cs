namespace EdgeSelector.Cli;

/// <summary>Entry point of the <c>edgesel</c> command.</summary>
public static class Program
{
    /// <summary>Dispatches to a sub-command.</summary>
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("usage: edgesel <command> [options]");
        return args.Length == 0 ? 2 : 0;
    }
}
