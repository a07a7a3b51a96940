// The course as one path: the main job (`nlpbook course`: every step end to end, with a
// report) and every notebook's set-up line, openCourse(), which picks the profile.
export { runCourse, type CourseOptions, type CourseResult } from './course';
export { Course, openCourse } from './notebook-course';
export { checkProfile, profileFromEnv } from './course-path';
export { PROFILE_NAMES, PROFILES, type ProfileName } from './profiles';
