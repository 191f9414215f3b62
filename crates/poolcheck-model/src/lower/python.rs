//! Python code that starts a server when run as a script
//! (`uvicorn.run(app, workers=4)` under `if __name__ == "__main__"`), found
//! by the evaluator with the project's environment.

use poolcheck_extract::python::PythonProject;

use super::{Context, group};
use crate::declarations::{Declarations, DeclaredBy};

pub(super) fn lower(cx: &Context<'_>, project: &PythonProject<'_>, out: &mut Declarations) {
    let analysis = project.analyze(&cx.project_env, None);
    for server in &analysis.servers {
        let file = server.location.file.clone();
        out.process_groups.push(group(
            server.clone(),
            DeclaredBy::Code,
            &file,
            cx.project_env.clone(),
        ));
    }
}
