/** Where the web console is served (docs/console.md): everything under /admin/, and /admin itself (a redirect). */
export const CONSOLE_PATH = '/admin/';
export const CONSOLE_ROUTE_PATHS = [CONSOLE_PATH, CONSOLE_PATH.slice(0, -1)] as const;
